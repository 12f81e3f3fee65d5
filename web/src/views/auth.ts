import { api, login } from '../api'
import { field, h } from '../dom'
import { formStatus, formValues, showError } from '../forms'
import { navigate } from '../main'

export function loginView(outlet: HTMLElement) {
  const form = h(
    'form',
    { class: 'card narrow' },
    field('Username', h('input', { name: 'username', autocomplete: 'username', required: true })),
    field(
      'Password',
      h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    ),
    formStatus(),
    h('button', { type: 'submit' }, 'Log in'),
    h('p', {}, 'No account yet? ', h('a', { href: '/signup', 'data-link': true }, 'Sign up')),
  )
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const { username, password } = formValues(form)
    try {
      await login(username ?? '', password ?? '')
      navigate('/calculator')
    } catch (error) {
      showError(form, error)
    }
  })
  outlet.append(form)
}

export function signupView(outlet: HTMLElement) {
  const form = h(
    'form',
    { class: 'card narrow' },
    field('Username', h('input', { name: 'username', autocomplete: 'username', required: true })),
    field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true })),
    field(
      'Password (8 or more characters)',
      h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true }),
    ),
    formStatus(),
    h('button', { type: 'submit' }, 'Create account'),
    h('p', {}, 'Already registered? ', h('a', { href: '/login', 'data-link': true }, 'Log in')),
  )
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const values = formValues(form)
    try {
      await api('POST', '/auth/register', values)
      await login(values.username ?? '', values.password ?? '')
      navigate('/calculator')
    } catch (error) {
      showError(form, error)
    }
  })
  outlet.append(form)
}
