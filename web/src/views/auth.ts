import { login, RetryKey, register } from '../api'
import { busy, field, h } from '../dom'
import { formStatus, formValues, rules, showError, validate } from '../forms'
import { navigate, nextPath } from '../main'
import type { Scope } from '../scope'

const USERNAME_HINT = '3–32 letters, digits, dots, dashes or underscores'

export function loginView(outlet: HTMLElement, scope: Scope) {
  const submit = h('button', { type: 'submit' }, 'Log in')
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true, 'aria-label': 'Log in' },
    field(
      'Username',
      h('input', { name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' }),
    ),
    field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password' })),
    formStatus(),
    h('div', { class: 'actions' }, submit),
    h('p', { class: 'muted' }, 'No account yet? ', h('a', { href: '/signup', 'data-link': true }, 'Sign up')),
  )
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (submit.disabled || !validate(form, { username: [rules.required], password: [rules.required] })) return
    const { username = '', password = '' } = formValues(form)
    try {
      await busy(submit, 'Logging in…', () => login(username.trim(), password, scope.signal))
      navigate(nextPath() ?? '/calculator')
    } catch (error) {
      showError(form, error)
    }
  })
  outlet.append(form)
}

export function signupView(outlet: HTMLElement, scope: Scope) {
  const submit = h('button', { type: 'submit' }, 'Create account')
  const keys = new RetryKey()
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true, 'aria-label': 'Sign up' },
    field(
      'Username',
      h('input', { name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' }),
      { hint: USERNAME_HINT },
    ),
    field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'email' })),
    field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'new-password' }), {
      hint: '8 or more characters',
    }),
    formStatus(),
    h('div', { class: 'actions' }, submit),
    h(
      'p',
      { class: 'muted' },
      'Already registered? ',
      h('a', { href: '/login', 'data-link': true }, 'Log in'),
    ),
  )
  const usernameRule = (value: string) =>
    /^[A-Za-z0-9_.-]{3,32}$/.test(value.trim()) ? undefined : `Use ${USERNAME_HINT}.`
  const emailRule = (value: string) =>
    /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value.trim())
      ? undefined
      : 'Enter an email address, like name@example.com.'
  const passwordRule = (value: string) =>
    value.length < 8
      ? 'Use at least 8 characters.'
      : value.length > 128
        ? 'Use at most 128 characters.'
        : undefined

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (
      submit.disabled ||
      !validate(form, {
        username: [rules.required, usernameRule],
        email: [rules.required, emailRule],
        password: [rules.required, passwordRule],
      })
    )
      return
    const values = formValues(form)
    const body = {
      username: (values.username ?? '').trim(),
      email: (values.email ?? '').trim(),
      password: values.password ?? '',
    }
    try {
      await busy(submit, 'Creating account…', async () => {
        await register(body, keys, scope.signal)
        await login(body.username, body.password, scope.signal)
      })
      navigate('/calculator')
    } catch (error) {
      showError(form, error)
    }
  })
  outlet.append(form)
}
