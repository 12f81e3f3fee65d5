import { Type } from 'typebox'
import { Email, Password, Username } from '../users/schemas.js'

export const RegisterBody = Type.Object(
  { username: Username, email: Email, password: Password },
  { description: 'A new account; its role is always user' },
)

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64, description: 'Username (any case)' }),
    password: Type.String({ minLength: 1, maxLength: 128, description: 'Password' }),
  },
  { description: 'Credentials' },
)

export const TokenForm = Type.Object(
  {
    grant_type: Type.Optional(
      Type.Union([Type.Literal('password'), Type.Literal('refresh_token')], {
        description: 'OAuth2 grant type; password when omitted',
      }),
    ),
    username: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'Username, for the password grant' }),
    ),
    password: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'Password, for the password grant' }),
    ),
    refresh_token: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'Refresh token, for the refresh_token grant',
      }),
    ),
    scope: Type.Optional(
      Type.String({ maxLength: 256, description: 'Ignored; accepted for OAuth2 clients' }),
    ),
    client_id: Type.Optional(
      Type.String({ maxLength: 256, description: 'Ignored; accepted for OAuth2 clients' }),
    ),
    client_secret: Type.Optional(
      Type.String({ maxLength: 256, description: 'Ignored; accepted for OAuth2 clients' }),
    ),
  },
  { description: 'OAuth2 password or refresh_token grant (application/x-www-form-urlencoded)' },
)

export const RefreshBody = Type.Object(
  {
    refresh_token: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'Refresh token from the last token pair',
    }),
  },
  { description: 'A refresh token' },
)

export const TokenPair = Type.Object(
  {
    access_token: Type.String({ description: 'JWT access token, sent as Authorization: Bearer' }),
    token_type: Type.Literal('bearer', { description: 'Always bearer' }),
    expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
    refresh_token: Type.String({ description: 'Opaque single-use refresh token' }),
  },
  { description: 'OAuth2 token response (RFC 6749 field names)' },
)
