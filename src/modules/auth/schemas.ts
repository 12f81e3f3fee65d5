import { type Static, Type } from 'typebox'
import { named } from '../../platform/schemas.js'

export const LoginBody = named(
  'Credentials',
  Type.Object(
    {
      username: Type.String({ minLength: 1, maxLength: 64, description: 'Username (any case)' }),
      password: Type.String({ minLength: 1, maxLength: 128, description: 'Password' }),
    },
    { description: 'Credentials' },
  ),
  { username: 'ada', password: 'correct horse battery staple' },
)

export const TokenForm = named(
  'TokenRequest',
  Type.Object(
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
  ),
  { grant_type: 'password', username: 'ada', password: 'correct horse battery staple' },
)

export const RefreshBody = named(
  'RefreshRequest',
  Type.Object(
    {
      refresh_token: Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'Refresh token from the last token pair',
      }),
    },
    { description: 'A refresh token' },
  ),
  { refresh_token: 'q3x9Lw2Vb7Tn0Rk5Yp8Jd4Hs1Mf6Gc3Ze9Ua2Ni7Ko5' },
)

export const TokenPair = named(
  'TokenPair',
  Type.Object(
    {
      access_token: Type.String({ description: 'JWT access token, sent as Authorization: Bearer' }),
      token_type: Type.Literal('bearer', { description: 'Always bearer' }),
      expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
      refresh_token: Type.String({ description: 'Opaque single-use refresh token' }),
    },
    { description: 'OAuth2 token response (RFC 6749 field names)' },
  ),
  {
    access_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkyZDRlMiJ9.c2lnbmF0dXJl',
    token_type: 'bearer',
    expires_in: 900,
    refresh_token: 'q3x9Lw2Vb7Tn0Rk5Yp8Jd4Hs1Mf6Gc3Ze9Ua2Ni7Ko5',
  },
)
export type TokenPair = Static<typeof TokenPair>
