import {
  ApiError,
  createProduct,
  deleteProduct,
  listProducts,
  me,
  type Page,
  type Product,
  type ProductFilter,
  type ProductInput,
  RetryKey,
  updateProduct,
} from '../api'
import { modal } from '../dialog'
import { badge, busy, confirmButton, field, h, notice, select } from '../dom'
import { clearErrors, formStatus, formValues, onFilterInput, rules, showError, validate } from '../forms'
import { problemMessage } from '../messages'
import type { Scope } from '../scope'
import { deleteFromList, isGone, isNarrow, LOADING, loadLatest, pageAfterDelete, pager } from './common'

const PAGE_SIZE = 12
const LOW_STOCK = 5
const money = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' })

/** One control for the sort key and direction: value is "sortBy:sortOrder". */
const SORTS: [string, string][] = [
  ['createdAt:desc', 'Newest first'],
  ['name:asc', 'Name, A to Z'],
  ['name:desc', 'Name, Z to A'],
  ['price:asc', 'Price, lowest first'],
  ['price:desc', 'Price, highest first'],
  ['stock:desc', 'Stock, most first'],
  ['stock:asc', 'Stock, fewest first'],
]

/** A price filter field: blank is no filter (the form has already checked the number). */
const price = (text: string | undefined) => (text?.trim() ? Number(text.trim()) : undefined)

function stockBadge(stock: number) {
  if (stock === 0) return badge('Out of stock', 'danger')
  if (stock <= LOW_STOCK) return badge(`Only ${stock} left`, 'warning')
  return badge(`${stock.toLocaleString()} in stock`, 'success')
}

export function productsView(outlet: HTMLElement, scope: Scope) {
  const isAdmin = me()?.role === 'admin'
  const status = notice()
  const activeCount = h('span', { class: 'count' })
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Find products' },
    field('Search by name', h('input', { name: 'name', type: 'search', autocomplete: 'off' }), {
      class: 'grow',
    }),
    h(
      'details',
      { class: 'more-filters', open: !isNarrow() },
      h('summary', {}, 'Filter and sort', activeCount),
      h(
        'div',
        { class: 'row' },
        field('Category', h('input', { name: 'category', autocomplete: 'off' })),
        field('Min price', h('input', { name: 'minPrice', inputmode: 'decimal', autocomplete: 'off' })),
        field('Max price', h('input', { name: 'maxPrice', inputmode: 'decimal', autocomplete: 'off' })),
        field('Sort', select('sort', SORTS, 'createdAt:desc')),
        h(
          'div',
          { class: 'field checkbox' },
          h('input', { id: 'in-stock-only', name: 'inStockOnly', type: 'checkbox', value: 'true' }),
          h('label', { for: 'in-stock-only' }, 'In stock only'),
        ),
      ),
    ),
    formStatus(),
  )
  const grid = h(
    'div',
    { class: 'products', 'aria-label': 'Products', role: 'region' },
    h('p', { class: 'empty' }, LOADING),
  )
  const pages = pager('products', (next) => {
    page = next
    void refresh()
  })
  let page = 1
  let shown: Page<Product> | undefined

  async function refresh() {
    const values = formValues(filters)
    const active = ['category', 'minPrice', 'maxPrice', 'inStockOnly'].filter((key) =>
      values[key]?.trim(),
    ).length
    activeCount.textContent = active ? ` (${active} active)` : ''
    if (!validate(filters, { minPrice: [rules.price], maxPrice: [rules.price] })) {
      scope.cancel('list')
      return
    }
    const [sortBy, sortOrder] = (values.sort ?? 'createdAt:desc').split(':')
    try {
      const list = await loadLatest(scope, 'list', grid, (signal) =>
        listProducts(
          {
            page,
            pageSize: PAGE_SIZE,
            name: values.name?.trim(),
            category: values.category?.trim(),
            minPrice: price(values.minPrice),
            maxPrice: price(values.maxPrice),
            inStockOnly: values.inStockOnly === 'true',
            // The sort select's values are the API's sort keys and directions.
            sortBy: sortBy as ProductFilter['sortBy'],
            sortOrder: sortOrder as ProductFilter['sortOrder'],
          },
          signal,
        ),
      )
      if (!list) return
      if (list.items.length === 0 && list.page > 1 && list.total > 0) {
        page = Math.ceil(list.total / list.pageSize)
        return refresh()
      }
      shown = list
      clearErrors(filters)
      grid.replaceChildren(
        ...(list.items.length
          ? list.items.map(card)
          : [
              h(
                'p',
                { class: 'empty' },
                values.name || active ? 'No products match these filters.' : 'No products yet.',
              ),
            ]),
      )
      pages.update(list)
    } catch (error) {
      shown = undefined
      pages.hide()
      grid.replaceChildren(h('p', { class: 'empty' }, 'Could not load the products.'))
      // A filter the server refused is shown at that filter; anything else above the list.
      if (error instanceof ApiError && error.problem.status === 400) {
        showError(filters, error)
      } else status.error(problemMessage(error), () => void refresh())
    }
  }

  function card(product: Product) {
    const actions = isAdmin
      ? h(
          'div',
          { class: 'actions card-actions' },
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              'aria-label': `Edit ${product.name}`,
              onclick: (event: Event) => editor.edit(product, event.currentTarget as HTMLElement),
            },
            'Edit',
          ),
          confirmButton('Delete', `Delete ${product.name}`, async () => {
            const reload = () => {
              page = pageAfterDelete(shown)
              return refresh()
            }
            if (await deleteFromList(product.name, () => deleteProduct(product.id), status, reload)) {
              outlet.querySelector<HTMLElement>('h1')?.focus()
            }
          }),
        )
      : null
    return h(
      'article',
      { class: `card product${product.stock === 0 ? ' sold-out' : ''}`, 'data-id': product.id },
      h('h2', {}, product.name),
      h(
        'div',
        { class: 'product-line' },
        h('p', { class: 'price' }, money.format(product.price)),
        stockBadge(product.stock),
      ),
      h('p', { class: 'muted meta' }, `${product.category} · SKU ${product.sku}`),
      product.description ? h('p', { class: 'product-description' }, product.description) : null,
      actions,
    )
  }

  const editor = productEditor(status, async () => {
    await refresh()
  })
  onFilterInput(filters, scope, () => {
    page = 1
    void refresh()
  })
  if (isAdmin) {
    outlet
      .querySelector('.page-head')
      ?.append(
        h(
          'button',
          { type: 'button', onclick: (event: Event) => editor.create(event.currentTarget as HTMLElement) },
          'New product',
        ),
      )
  }
  outlet.append(filters, status.element, grid, pages.element, ...(isAdmin ? [editor.element] : []))
  void refresh()
}

/** The admin's create/edit form, in a dialog: opened empty by "New product", filled in by a product's Edit. */
function productEditor(status: ReturnType<typeof notice>, saved: () => Promise<void>) {
  let editing: Product | null = null
  const keys = new RetryKey()
  const submit = h('button', { type: 'submit' }, 'Create product')
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel')
  const form = h(
    'form',
    { novalidate: true, 'aria-label': 'Product editor', 'data-main-field': 'name' },
    field('Name', h('input', { name: 'name', autocomplete: 'off', maxlength: 200 })),
    h(
      'div',
      { class: 'row' },
      field(
        'SKU',
        h('input', { name: 'sku', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' }),
        {
          invalid: 'Use 1–64 letters, digits, dots, dashes or underscores.',
        },
      ),
      field('Category', h('input', { name: 'category', autocomplete: 'off', maxlength: 100 })),
    ),
    h(
      'div',
      { class: 'row' },
      field('Price (USD)', h('input', { name: 'price', inputmode: 'decimal', autocomplete: 'off' })),
      field('Stock', h('input', { name: 'stock', inputmode: 'numeric', autocomplete: 'off' })),
    ),
    field('Description (optional)', h('textarea', { name: 'description', rows: 3 })),
    formStatus(),
    h('div', { class: 'actions' }, submit, cancel),
  )
  const dialog = modal('New product', form)
  cancel.addEventListener('click', () => dialog.close())

  function open(product: Product | null, opener: HTMLElement) {
    editing = product
    form.reset()
    // Whatever the last attempt said belongs to that attempt, not to this one.
    clearErrors(form)
    if (product) {
      for (const key of ['name', 'sku', 'category', 'price', 'stock', 'description'] as const) {
        const control = form.elements.namedItem(key) as HTMLInputElement
        control.value = String(product[key] ?? '')
      }
    }
    dialog.heading.textContent = product ? `Edit ${product.name}` : 'New product'
    submit.textContent = product ? 'Save changes' : 'Create product'
    dialog.open(opener)
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (
      submit.disabled ||
      !validate(form, {
        name: [rules.required],
        sku: [rules.required],
        category: [rules.required],
        price: [rules.required, rules.price],
        stock: [rules.required, rules.wholeNumber],
        description: [rules.maxLength(5000)],
      })
    )
      return
    const values = formValues(form)
    const body: ProductInput = {
      name: (values.name ?? '').trim(),
      sku: (values.sku ?? '').trim(),
      category: (values.category ?? '').trim(),
      price: Number(values.price),
      stock: Number(values.stock),
      description: values.description?.trim() || null,
    }
    const product = editing
    const patch = product ? changes(product, body) : null
    if (product && patch && Object.keys(patch).length === 0) {
      dialog.close()
      return
    }
    try {
      const result = await busy(submit, product ? 'Saving…' : 'Creating…', () =>
        product && patch ? updateProduct(product.id, patch) : createProduct(body, keys),
      )
      editing = null
      dialog.close()
      status.success(product ? `Saved ${result.name}.` : `Created ${result.name}.`)
      await saved()
    } catch (error) {
      showError(form, error)
      if (isGone(error)) await saved()
    }
  })

  return {
    element: dialog.element,
    create: (opener: HTMLElement) => open(null, opener),
    edit: (product: Product, opener: HTMLElement) => open(product, opener),
  }
}

/** Only the fields that differ, so an edit never overwrites a field someone else changed meanwhile. */
function changes(product: Product, body: ProductInput): Partial<ProductInput> {
  const patch: Partial<ProductInput> = {}
  for (const key of Object.keys(body) as (keyof ProductInput)[]) {
    if (body[key] !== (product[key] ?? null)) Object.assign(patch, { [key]: body[key] })
  }
  return patch
}
