import {
  deleteFile,
  downloadFile,
  isAbort,
  listFiles,
  me,
  type Page,
  RetryKey,
  type StoredFile,
  uploadFile,
} from '../api'
import { confirmButton, field, formatBytes, formatDateTime, h, notice } from '../dom'
import { clearErrors, formStatus, showError, validate } from '../forms'
import { problemMessage } from '../messages'
import type { Scope } from '../scope'
import { dataTable } from '../table'
import { deleteFromList, isGone, LOADING, loadLatest, pageAfterDelete, pager } from './common'

const PAGE_SIZE = 20

/** A content type in words a person knows. */
const kindOf = (type: string) =>
  ({
    'text/plain': 'Text',
    'application/pdf': 'PDF',
    'image/png': 'PNG image',
    'image/jpeg': 'JPEG image',
    'image/gif': 'GIF image',
    'application/msword': 'Word document',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'Word document',
  })[type.split(';')[0]!.trim()] ?? type

export function filesView(outlet: HTMLElement, scope: Scope) {
  const input = h('input', {
    name: 'file',
    type: 'file',
    accept: '.txt,.pdf,.png,.jpg,.jpeg,.gif,.doc,.docx',
  })
  const progress = h('progress', { max: 1, value: 0, 'aria-label': 'Upload progress', hidden: true })
  const percent = h('span', { class: 'muted', 'aria-hidden': 'true' })
  const submit = h('button', { type: 'submit' }, 'Upload')
  const cancel = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Cancel upload')
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-label': 'Upload a file', 'data-main-field': 'file' },
    h('h2', {}, 'Upload a file'),
    field('File', input, {
      hint: 'Text, PDF, PNG, JPEG, GIF or Word; up to the size the server allows (5 MiB by default)',
    }),
    h('div', { class: 'progress-row' }, progress, percent),
    formStatus(),
    h('div', { class: 'actions' }, submit, cancel),
  )
  const status = notice()
  const keys = new RetryKey()
  let shown: Page<StoredFile> | undefined
  let page = 1

  const table = dataTable<StoredFile>('Your files', [
    { label: 'Name', primary: true, cell: (file) => h('span', { class: 'filename' }, file.filename) },
    { label: 'Size', cell: (file) => formatBytes(file.size), class: 'num' },
    { label: 'Kind', cell: (file) => kindOf(file.contentType) },
    { label: 'Uploaded', cell: (file) => formatDateTime(file.createdAt), class: 'date' },
    {
      label: 'Actions',
      actions: true,
      cell: (file) => [
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            'aria-label': `Download ${file.filename}`,
            onclick: (event: Event) => download(file, event.currentTarget as HTMLButtonElement),
          },
          'Download',
        ),
        confirmButton('Delete', `Delete ${file.filename}`, async () => {
          const reload = () => {
            page = pageAfterDelete(shown)
            return refresh()
          }
          if (await deleteFromList(file.filename, () => deleteFile(file.id), status, reload)) {
            outlet.querySelector<HTMLElement>('.list-heading')?.focus()
          }
        }),
      ],
    },
  ])
  const list = h('div', { class: 'list' }, table.element)
  table.empty(LOADING)
  const pages = pager('files', (next) => {
    page = next
    void refresh()
  })

  async function download(file: StoredFile, button: HTMLButtonElement) {
    button.disabled = true
    try {
      await downloadFile(file, scope.signal)
    } catch (error) {
      if (isAbort(error)) return
      status.error(`Could not download ${file.filename}: ${problemMessage(error)}`)
      if (isGone(error)) void refresh()
    } finally {
      button.disabled = false
    }
  }

  async function refresh() {
    try {
      const result = await loadLatest(scope, 'list', list, (signal) => listFiles(page, PAGE_SIZE, signal))
      if (!result) return
      if (result.items.length === 0 && result.page > 1 && result.total > 0) {
        page = Math.ceil(result.total / result.pageSize)
        return refresh()
      }
      shown = result
      if (result.items.length) table.render(result.items, (file) => ({ 'data-id': file.id }))
      else table.empty('No files yet: upload one above.')
      pages.update(result)
    } catch (error) {
      shown = undefined
      pages.hide()
      table.empty('Could not load the files.')
      status.error(problemMessage(error), () => void refresh())
    }
  }

  input.addEventListener('change', () => clearErrors(form))
  cancel.addEventListener('click', () => scope.cancel('upload'))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (submit.disabled) return
    const file = input.files?.[0]
    if (!validate(form, { file: [() => (file ? undefined : 'Choose a file first.')] }) || !file) return
    const signal = scope.latest('upload')
    submit.disabled = true
    input.disabled = true
    cancel.hidden = false
    progress.hidden = false
    progress.value = 0
    percent.textContent = '0%'
    try {
      const stored = await uploadFile(
        file,
        (fraction) => {
          progress.value = fraction
          percent.textContent = `${Math.round(fraction * 100)}%`
        },
        keys,
        signal,
      )
      form.reset()
      status.success(`Uploaded ${stored.filename} (${formatBytes(stored.size)}).`)
      page = 1
      await refresh()
    } catch (error) {
      if (isAbort(error)) {
        if (!scope.ended) form.querySelector('.form-status')!.textContent = 'Upload cancelled.'
      } else showError(form, error)
    } finally {
      submit.disabled = false
      input.disabled = false
      cancel.hidden = true
      progress.hidden = true
      percent.textContent = ''
    }
  })

  outlet.append(
    form,
    h(
      'h2',
      { class: 'list-heading', tabindex: '-1' },
      me()?.role === 'admin' ? 'Everyone’s files' : 'Your files',
    ),
    status.element,
    list,
    pages.element,
  )
  void refresh()
}
