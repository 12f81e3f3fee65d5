import { type Backend, useApp } from '../helpers.js'

/*
 * Type checks of useApp's handle, run by `tsc --noEmit` (never called): it names only the users it was
 * asked to sign up, and has an admin session only when one was asked for.
 */
export function useAppTypeChecks(backend: Backend): void {
  const t = useApp(backend, { admin: true, users: ['alice', 'bob'] })
  t.users.alice.headers satisfies { authorization: string }
  t.admin.id satisfies string
  // @ts-expect-error a user the suite did not sign up
  t.users.alcie

  const plain = useApp(backend, { users: ['carol'] })
  // @ts-expect-error no admin session was asked for
  plain.admin
}
