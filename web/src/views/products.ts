import { api, me, type Page, query } from '../api'
import { confirmButton, field, h, select } from '../dom'
import { clearErrors, formStatus, formValues, onFilterInput, showError } from '../forms'
import { pagerButtons } from './tasks'

interface Product {
  id: string
  name: string
  description: string | null
  price: number
  stock: number
  category: string
  sku: string
}

const money = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' })

export function productsView(outlet: HTMLElement) {
  const isAdmin = me()?.role === 'admin'
  const filters = h(
    'form',
    { class: 'row filters', role: 'search' },
    field('Search by name', h('input', { name: 'name', type: 'search' })),
    field('Category', h('input', { name: 'category' })),
    field('Min price', h('input', { name: 'minPrice', inputmode: 'decimal' })),
    field('Max price', h('input', { name: 'maxPrice', inputmode: 'decimal' })),
    field(
      'Sort by',
      select('sortBy', [
        ['createdAt', 'Newest'],
        ['name', 'Name'],
        ['price', 'Price'],
        ['stock', 'Stock'],
      ]),
    ),
    field(
      'Order',
      select('sortOrder', [
        ['desc', 'Descending'],
        ['asc', 'Ascending'],
      ]),
    ),
    h(
      'div',
      { class: 'field checkbox' },
      h('input', { id: 'in-stock-only', name: 'inStockOnly', type: 'checkbox', value: 'true' }),
      h('label', { for: 'in-stock-only' }, 'In stock only'),
    ),
    formStatus(),
  )
  const grid = h('div', { class: 'products' })
  const pager = h('div', { class: 'pager' })
  const editor = isAdmin ? productEditor(() => refresh()) : null
  let page = 1

  async function refresh() {
    try {
      const list = await api<Page<Product>>(
        'GET',
        `/products${query({ ...formValues(filters), page, pageSize: 12 })}`,
      )
      clearErrors(filters)
      grid.replaceChildren(...list.items.map((product) => card(product, editor)))
      if (list.items.length === 0) grid.append(h('p', { class: 'muted' }, 'No products match.'))
      pager.replaceChildren(
        ...pagerButtons(list, (next) => {
          page = next
          void refresh()
        }),
      )
    } catch (error) {
      showError(filters, error)
    }
  }

  onFilterInput(filters, () => {
    page = 1
    void refresh()
  })
  outlet.append(...(editor ? [editor.element] : []), filters, grid, pager)
  void refresh()
}

function card(product: Product, editor: ReturnType<typeof productEditor> | null) {
  return h(
    'article',
    { class: 'card product' },
    h('h2', {}, product.name),
    h('p', { class: 'price' }, money.format(product.price)),
    h('p', { class: 'muted' }, `${product.category} · SKU ${product.sku} · ${product.stock} in stock`),
    product.description ? h('p', {}, product.description) : null,
    editor &&
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          { type: 'button', 'aria-label': `Edit ${product.name}`, onclick: () => editor.edit(product) },
          'Edit',
        ),
        confirmButton('Delete', `Delete ${product.name}`, async () => {
          await api('DELETE', `/products/${product.id}`)
          await editor.saved()
        }),
      ),
  )
}

/** The admin's create/edit form: one form, switched to editing when a product's Edit is pressed. */
function productEditor(saved: () => Promise<void>) {
  let editing: string | null = null
  const heading = h('h2', {}, 'New product')
  const submit = h('button', { type: 'submit' }, 'Create product')
  const cancel = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Cancel edit')
  const form = h(
    'form',
    { class: 'card', 'aria-label': 'Product editor', 'data-main-field': 'name' },
    heading,
    h(
      'div',
      { class: 'row' },
      field('Name', h('input', { name: 'name', required: true })),
      field('SKU', h('input', { name: 'sku', required: true })),
      field('Category', h('input', { name: 'category', required: true })),
    ),
    h(
      'div',
      { class: 'row' },
      field('Price', h('input', { name: 'price', inputmode: 'decimal', required: true })),
      field('Stock', h('input', { name: 'stock', inputmode: 'numeric', required: true })),
    ),
    field('Description', h('textarea', { name: 'description', rows: 2 })),
    formStatus(),
    h('div', { class: 'actions' }, submit, cancel),
  )

  function reset() {
    editing = null
    form.reset()
    clearErrors(form)
    heading.textContent = 'New product'
    submit.textContent = 'Create product'
    cancel.hidden = true
  }
  cancel.addEventListener('click', reset)

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const values = formValues(form)
    const body = {
      name: values.name,
      sku: values.sku,
      category: values.category,
      price: Number(values.price),
      stock: Number(values.stock),
      description: values.description || null,
    }
    try {
      if (editing) await api('PATCH', `/products/${editing}`, body)
      else await api('POST', '/products', body)
      reset()
      await saved()
    } catch (error) {
      showError(form, error)
    }
  })

  // Folded by default, so on a phone the catalogue is not pushed below a long form.
  const element = h('details', { class: 'editor' }, h('summary', {}, 'Add or edit a product'), form)
  return {
    element,
    saved,
    edit(product: Product) {
      editing = product.id
      for (const key of ['name', 'sku', 'category', 'price', 'stock', 'description'] as const) {
        const control = form.elements.namedItem(key) as HTMLInputElement
        control.value = String(product[key] ?? '')
      }
      heading.textContent = `Edit ${product.name}`
      submit.textContent = 'Save changes'
      cancel.hidden = false
      element.open = true
      form.scrollIntoView({ behavior: 'smooth' })
    },
  }
}
