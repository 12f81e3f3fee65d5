import { api, download, type Page, upload } from '../api'
import { confirmButton, field, formatBytes, formatDate, h } from '../dom'
import { formStatus, showError } from '../forms'
import { pagerButtons } from './tasks'

interface StoredFile {
  id: string
  filename: string
  size: number
  contentType: string
  createdAt: string
}

export function filesView(outlet: HTMLElement) {
  const input = h('input', { name: 'file', type: 'file', required: true })
  const progress = h('progress', { max: 1, value: 0, 'aria-label': 'Upload progress', hidden: true })
  const form = h(
    'form',
    { class: 'card', 'aria-label': 'Upload a file', 'data-main-field': 'file' },
    field('File (txt, pdf, png, jpg, gif, doc, docx)', input),
    progress,
    formStatus(),
    h('button', { type: 'submit' }, 'Upload'),
  )
  const rows = h('tbody')
  const pager = h('div', { class: 'pager' })
  let page = 1

  async function refresh() {
    const list = await api<Page<StoredFile>>('GET', `/files?page=${page}&pageSize=20`)
    rows.replaceChildren(
      ...list.items.map((file) =>
        h(
          'tr',
          {},
          h('td', {}, file.filename),
          h('td', {}, formatBytes(file.size)),
          h('td', {}, file.contentType),
          h('td', {}, formatDate(file.createdAt)),
          h(
            'td',
            {},
            h(
              'div',
              { class: 'actions' },
              h(
                'button',
                {
                  type: 'button',
                  'aria-label': `Download ${file.filename}`,
                  onclick: () => download(`/files/${file.id}/content`, file.filename),
                },
                'Download',
              ),
              confirmButton('Delete', `Delete ${file.filename}`, async () => {
                await api('DELETE', `/files/${file.id}`)
                await refresh()
              }),
            ),
          ),
        ),
      ),
    )
    if (list.items.length === 0) rows.append(h('tr', {}, h('td', { colspan: 5 }, 'No files yet.')))
    pager.replaceChildren(
      ...pagerButtons(list, (next) => {
        page = next
        void refresh()
      }),
    )
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const file = input.files?.[0]
    if (!file) return
    progress.hidden = false
    progress.value = 0
    try {
      await upload('/files', file, (fraction) => {
        progress.value = fraction
      })
      form.reset()
      page = 1
      await refresh()
    } catch (error) {
      showError(form, error)
    } finally {
      progress.hidden = true
    }
  })

  outlet.append(
    form,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h('tr', {}, ...['Name', 'Size', 'Type', 'Uploaded', ''].map((t) => h('th', { scope: 'col' }, t))),
        ),
        rows,
      ),
    ),
    pager,
  )
  void refresh()
}
