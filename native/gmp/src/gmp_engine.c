/*
 * GMP engine for the Math API: F(n), n!, b^e and b^e mod m as decimal strings, through plain Node-API.
 *
 * Three things make it safe to call from a server:
 *
 * 1. Nothing reaches GMP that could make it abort the process. GMP calls abort() when an allocation fails
 *    or a number outgrows its size field, and raises SIGFPE on a zero divisor. Operands are validated and
 *    the size of every result is estimated and refused past MAX_RESULT_DIGITS before GMP sees them, and
 *    GMP's allocations go through our functions, which never return NULL: they jump back out instead.
 *
 * 2. A computation can be cancelled. A worker thread cannot be interrupted while it runs native code
 *    (Worker.terminate() only takes effect when the call returns), so each call arms a POSIX timer aimed at
 *    its own thread. When it fires, the signal handler siglongjmp()s out of GMP, unless the thread is inside
 *    the allocator, in which case the allocator jumps on its way out. GMP's own code between allocations
 *    is pure computation on memory it owns (no locks, no other library state), so abandoning it is safe.
 *
 * 3. Abandoning a computation leaks nothing. Every block GMP allocates during a call is linked into that
 *    call's arena; a jump frees the whole arena. The arena also counts bytes, so a call that would exceed
 *    its memory budget stops with an error instead of growing the process.
 */
#include <node_api.h>

#include <dlfcn.h>
#include <gmp.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* V8's longest string is 2^29 - 24 characters; a result must fit in one, sign included. */
#define MAX_RESULT_DIGITS 500000000.0
/* Operands arrive as decimal text; anything longer than this is refused before parsing. */
#define MAX_OPERAND_CHARS 100000000u
/* Results at least this long become external strings: V8 adopts our buffer instead of copying it. */
#define EXTERNAL_MIN_BYTES (64u * 1024u)
/* Result buffers at least this large are mapped directly, so freeing them returns the memory at once. */
#define MAP_MIN_BYTES (1u << 20)
#define DEFAULT_MEMORY_LIMIT ((size_t)4 << 30)

enum outcome { DONE = 0, TIMED_OUT = 1, OUT_OF_MEMORY = 2, OVER_BUDGET = 3, TOO_LARGE = 4 };

/* Header in front of every block GMP gets from us: 32 bytes, so the payload keeps malloc's alignment. */
typedef struct block {
  struct block *prev, *next; /* NULL when allocated outside a guarded call */
  size_t size;
  size_t pad;
} block_t;

typedef struct call_state {
  block_t blocks; /* sentinel of this call's live blocks */
  size_t live_bytes;
  size_t limit_bytes;
  char *result; /* decimal output buffer, freed on a jump */
  size_t result_capacity;
  sigjmp_buf jump;
  volatile sig_atomic_t guarded;  /* a jump target exists */
  volatile sig_atomic_t in_alloc; /* inside our allocator: the handler must not jump */
  volatile sig_atomic_t expired;  /* the timer fired while in_alloc */
  timer_t timer;
  volatile bool armed;
} call_state_t;

/* initial-exec: reading it from the signal handler must never allocate thread-local storage lazily. */
static __thread call_state_t *current __attribute__((tls_model("initial-exec")));

static int timer_signal = 0; /* 0 when no free real-time signal was found: calls then cannot time out */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Process-wide counts of blocks and bytes held for GMP, for leak checks (exported as stats()). */
static size_t total_blocks = 0;
static size_t total_bytes = 0;

typedef napi_status (*external_latin1_fn)(napi_env, char *, size_t, napi_finalize, void *, napi_value *,
                                          bool *);
static external_latin1_fn create_external_latin1 = NULL;

/* ---------------------------------------------------------------------------------------------------- */
/* Allocation                                                                                           */

static _Noreturn void bail(call_state_t *state, int outcome) {
  state->in_alloc = 0;
  state->guarded = 0;
  siglongjmp(state->jump, outcome);
}

static void link_block(call_state_t *state, block_t *b) {
  if (state == NULL) {
    b->prev = b->next = NULL;
    return;
  }
  b->prev = &state->blocks;
  b->next = state->blocks.next;
  state->blocks.next->prev = b;
  state->blocks.next = b;
  state->live_bytes += b->size;
}

static void unlink_block(call_state_t *state, block_t *b) {
  if (b->prev == NULL) return;
  b->prev->next = b->next;
  b->next->prev = b->prev;
  if (state != NULL) state->live_bytes -= b->size;
  b->prev = b->next = NULL;
}

/* Leaves the allocator; a timer that fired meanwhile is honoured now, outside malloc's locks. */
static void leave_alloc(call_state_t *state) {
  if (state == NULL) return;
  state->in_alloc = 0;
  if (state->expired && state->guarded) bail(state, TIMED_OUT);
}

static void *gmp_alloc(size_t size) {
  call_state_t *state = current;
  if (state != NULL) {
    state->in_alloc = 1;
    if (size > state->limit_bytes - state->live_bytes) bail(state, OVER_BUDGET);
  }
  block_t *b = malloc(sizeof(block_t) + size);
  if (b == NULL) {
    if (state != NULL) bail(state, OUT_OF_MEMORY);
    fputs("gmp engine: out of memory outside a guarded call\n", stderr);
    abort();
  }
  b->size = size;
  link_block(state, b);
  __atomic_add_fetch(&total_blocks, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&total_bytes, size, __ATOMIC_RELAXED);
  leave_alloc(state);
  return b + 1;
}

static void *gmp_realloc(void *ptr, size_t old_size, size_t new_size) {
  (void)old_size;
  if (ptr == NULL) return gmp_alloc(new_size);
  call_state_t *state = current;
  block_t *b = (block_t *)ptr - 1;
  if (state != NULL) {
    state->in_alloc = 1;
    if (new_size > b->size && new_size - b->size > state->limit_bytes - state->live_bytes)
      bail(state, OVER_BUDGET);
  }
  block_t *prev = b->prev;
  size_t old = b->size;
  unlink_block(state, b);
  block_t *moved = realloc(b, sizeof(block_t) + new_size);
  if (moved == NULL) {
    /* The old block is intact: put it back so that the arena still frees it. */
    if (prev != NULL) link_block(state, b);
    if (state != NULL) bail(state, OUT_OF_MEMORY);
    fputs("gmp engine: out of memory outside a guarded call\n", stderr);
    abort();
  }
  moved->size = new_size;
  /* A block stays in the arena it was in: one from outside any call never joins a call's arena. */
  if (prev != NULL)
    link_block(state, moved);
  else
    moved->prev = moved->next = NULL;
  __atomic_add_fetch(&total_bytes, new_size, __ATOMIC_RELAXED);
  __atomic_sub_fetch(&total_bytes, old, __ATOMIC_RELAXED);
  leave_alloc(state);
  return moved + 1;
}

static void gmp_free(void *ptr, size_t size) {
  (void)size;
  if (ptr == NULL) return;
  call_state_t *state = current;
  if (state != NULL) state->in_alloc = 1;
  block_t *b = (block_t *)ptr - 1;
  unlink_block(state, b);
  __atomic_sub_fetch(&total_blocks, 1, __ATOMIC_RELAXED);
  __atomic_sub_fetch(&total_bytes, b->size, __ATOMIC_RELAXED);
  free(b);
  leave_alloc(state);
}

/* Frees every block a jump left behind, and the output buffer. Runs with `current` already cleared. */
static void free_arena(call_state_t *state) {
  block_t *b = state->blocks.next;
  while (b != &state->blocks) {
    block_t *next = b->next;
    __atomic_sub_fetch(&total_blocks, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&total_bytes, b->size, __ATOMIC_RELAXED);
    free(b);
    b = next;
  }
  state->blocks.next = state->blocks.prev = &state->blocks;
  state->live_bytes = 0;
}

/* The output buffer lives outside the arena: on success V8 may adopt it as an external string. */
static char *result_alloc(size_t capacity) {
  if (capacity >= MAP_MIN_BYTES) {
    void *p = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
  }
  return malloc(capacity);
}

static void result_free(char *buffer, size_t capacity) {
  if (buffer == NULL) return;
  if (capacity >= MAP_MIN_BYTES)
    munmap(buffer, capacity);
  else
    free(buffer);
}

static void finalize_result(napi_env env, void *data, void *hint) {
  result_free(data, (size_t)(uintptr_t)hint);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Cancellation                                                                                         */

static void on_timer(int sig, siginfo_t *info, void *context) {
  call_state_t *state = current;
  if (state == NULL || !state->guarded) return;
  state->expired = 1;
  if (state->in_alloc) return; /* the allocator jumps when it is done */
  state->guarded = 0;
  siglongjmp(state->jump, TIMED_OUT);
}

static void init_process(void) {
  mp_set_memory_functions(gmp_alloc, gmp_realloc, gmp_free);
  /* Present from Node 20.4 (Node-API 10); resolved at run time so that the addon loads on any Node. */
  create_external_latin1 = (external_latin1_fn)dlsym(RTLD_DEFAULT, "node_api_create_external_string_latin1");
  /* A real-time signal nobody else handles, highest first (V8 and Node use none of them). */
  for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
    struct sigaction old;
    if (sigaction(sig, NULL, &old) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_timer;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&action.sa_mask);
    if (sigaction(sig, &action, NULL) == 0) {
      timer_signal = sig;
      break;
    }
  }
}

/* ---------------------------------------------------------------------------------------------------- */
/* The guarded call                                                                                     */

enum op { FIBONACCI, FACTORIAL, POWER, POWER_MOD };

typedef struct job {
  enum op op;
  unsigned long n;        /* FIBONACCI, FACTORIAL; POWER's exponent once known to fit */
  const char *operand[3]; /* POWER(_MOD): base, exponent, modulus, as validated decimal text */
  double timeout_ms;      /* <= 0: no timer */
  size_t memory_limit;
  napi_env env;           /* for the output Buffer when as_buffer */
  bool as_buffer;         /* digits into a Node Buffer (transferable to another thread) instead of a string */
  size_t headroom;        /* as_buffer: bytes left free in front of the digits, for the caller's own header */
} job_t;

typedef struct result {
  napi_value buffer; /* as_buffer: the Buffer whose bytes from headroom on are the digits */
  char *text;
  size_t length;
  size_t capacity;
  double compute_ms;
  double convert_ms;
} result_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double log10_abs(mpz_srcptr z) {
  long exponent;
  double mantissa = mpz_get_d_2exp(&exponent, z);
  return log10(fabs(mantissa)) + exponent * log10(2.0);
}

static bool too_many_digits(double digits) { return !(digits <= MAX_RESULT_DIGITS); }

/* mpz_set_str with our stricter grammar already checked: [+-]?[0-9]+ */
static void parse(mpz_t z, const char *text) {
  int negative = text[0] == '-';
  mpz_set_str(z, text + (text[0] == '-' || text[0] == '+'), 10);
  if (negative) mpz_neg(z, z);
}

/* Runs inside the guard: everything GMP allocates here is in state's arena. */
static const char *evaluate(const job_t *job, call_state_t *state, result_t *out) {
  mpz_t r, b, e, m;
  mpz_inits(r, b, e, m, NULL);
  double started = now_ms();
  switch (job->op) {
    case FIBONACCI:
      mpz_fib_ui(r, job->n);
      break;
    case FACTORIAL:
      mpz_fac_ui(r, job->n);
      break;
    case POWER:
      parse(b, job->operand[0]);
      parse(e, job->operand[1]);
      if (mpz_sgn(e) == 0 || mpz_cmp_ui(b, 1) == 0) {
        mpz_set_ui(r, 1);
      } else if (mpz_sgn(b) == 0) {
        mpz_set_ui(r, 0);
      } else if (mpz_cmp_si(b, -1) == 0) {
        mpz_set_si(r, mpz_odd_p(e) ? -1 : 1);
      } else if (!mpz_fits_ulong_p(e) || too_many_digits(mpz_get_d(e) * log10_abs(b))) {
        bail(state, TOO_LARGE);
      } else {
        mpz_pow_ui(r, b, mpz_get_ui(e));
      }
      break;
    case POWER_MOD:
      parse(b, job->operand[0]);
      parse(e, job->operand[1]);
      parse(m, job->operand[2]);
      mpz_powm(r, b, e, m);
      break;
  }
  double computed = now_ms();
  /* sizeinbase is exact or one too high; room for a sign and the terminating NUL. */
  size_t capacity = mpz_sizeinbase(r, 10) + 2;
  char *text;
  if (job->as_buffer) {
    /*
     * Straight into a Buffer that V8 owns (a jump leaves it to the garbage collector), so that the digits
     * leave this thread without a copy. The allocation runs inside V8: flagged as the allocator, so a timer
     * firing meanwhile only marks the call expired and leave_alloc() jumps after it, outside V8.
     */
    void *data = NULL;
    state->in_alloc = 1;
    napi_status status = napi_create_buffer(job->env, job->headroom + capacity, &data, &out->buffer);
    if (status != napi_ok) {
      napi_value ignored;
      napi_get_and_clear_last_exception(job->env, &ignored);
      bail(state, OUT_OF_MEMORY);
    }
    leave_alloc(state);
    text = (char *)data + job->headroom;
  } else {
    state->result = result_alloc(capacity);
    if (state->result == NULL) bail(state, OUT_OF_MEMORY);
    state->result_capacity = capacity;
    text = state->result;
  }
  mpz_get_str(text, 10, r);
  out->compute_ms = computed - started;
  out->convert_ms = now_ms() - computed;
  mpz_clears(r, b, e, m, NULL);
  out->text = text;
  out->capacity = capacity;
  /* The NUL sits at sizeinbase - 1, + 1 with a sign, + 1 when sizeinbase was exact; past it is garbage. */
  out->length = (size_t)((char *)memchr(out->text + capacity - 3, '\0', 3) - out->text);
  return NULL;
}

/* Returns NULL and fills `out`, or the error code of why the call stopped. */
static const char *run_guarded(const job_t *job, result_t *out) {
  call_state_t state;
  memset(&state, 0, sizeof state);
  state.blocks.next = state.blocks.prev = &state.blocks;
  state.limit_bytes = job->memory_limit;

  sigset_t unblock, saved;
  sigemptyset(&unblock);
  if (timer_signal != 0) sigaddset(&unblock, timer_signal);
  pthread_sigmask(SIG_UNBLOCK, &unblock, &saved);

  int outcome = sigsetjmp(state.jump, 1);
  if (outcome == DONE) {
    if (job->timeout_ms > 0 && timer_signal != 0) {
      struct sigevent event;
      memset(&event, 0, sizeof event);
      event.sigev_notify = SIGEV_THREAD_ID;
      event.sigev_signo = timer_signal;
      event._sigev_un._tid = gettid(); /* sigev_notify_thread_id, which older glibc headers lack */
      if (timer_create(CLOCK_MONOTONIC, &event, &state.timer) != 0) {
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        return "ERR_MATH_TIMER";
      }
      state.armed = true;
      double seconds = job->timeout_ms / 1e3;
      struct itimerspec when = {.it_value = {.tv_sec = (time_t)seconds,
                                             .tv_nsec = (long)((seconds - (time_t)seconds) * 1e9)}};
      if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0) when.it_value.tv_nsec = 1;
      timer_settime(state.timer, 0, &when, NULL);
    }
    current = &state;
    state.guarded = 1;
    evaluate(job, &state, out);
    state.guarded = 0;
  }
  current = NULL;
  if (state.armed) timer_delete(state.timer);
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (outcome != DONE) {
    free_arena(&state);
    result_free(state.result, state.result_capacity);
    /* Big computations leave big free chunks in this thread's malloc arena: give them back. */
    malloc_trim(0);
    switch (outcome) {
      case TIMED_OUT:
        return "ERR_MATH_TIMEOUT";
      case OVER_BUDGET:
        return "ERR_MATH_MEMORY_LIMIT";
      case TOO_LARGE:
        return "ERR_MATH_RANGE";
      default:
        return "ERR_MATH_OUT_OF_MEMORY";
    }
  }
  if (out->capacity >= MAP_MIN_BYTES) malloc_trim(0);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Node-API glue                                                                                        */

#define CHECK(call)                                   \
  do {                                                \
    if ((call) != napi_ok) return throw_pending(env); \
  } while (0)

static napi_value throw_pending(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_MATH_NAPI", "Node-API call failed");
  return NULL;
}

static napi_value range_error(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_MATH_RANGE", message);
  return NULL;
}

/* A non-negative safe integer (what the JS engine accepts for n). */
static bool get_index(napi_env env, napi_value value, double *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return false;
  double n;
  if (napi_get_value_double(env, value, &n) != napi_ok) return false;
  if (!(n >= 0 && n <= 9007199254740991.0) || n != floor(n)) return false;
  *out = n;
  return true;
}

/* A JS string matching [+-]?[0-9]+, copied out; NULL (with an exception pending) otherwise. */
static char *get_integer_text(napi_env env, napi_value value, const char *name) {
  char message[96];
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    snprintf(message, sizeof message, "%s must be a decimal integer string", name);
    range_error(env, message);
    return NULL;
  }
  size_t length;
  if (napi_get_value_string_latin1(env, value, NULL, 0, &length) != napi_ok) {
    throw_pending(env);
    return NULL;
  }
  if (length > MAX_OPERAND_CHARS) {
    snprintf(message, sizeof message, "%s is longer than %u characters", name, MAX_OPERAND_CHARS);
    range_error(env, message);
    return NULL;
  }
  char *text = malloc(length + 1);
  if (text == NULL) {
    napi_throw_error(env, "ERR_MATH_OUT_OF_MEMORY", "out of memory");
    return NULL;
  }
  size_t copied;
  if (napi_get_value_string_latin1(env, value, text, length + 1, &copied) != napi_ok || copied != length) {
    free(text);
    throw_pending(env);
    return NULL;
  }
  size_t start = (text[0] == '+' || text[0] == '-') ? 1 : 0;
  bool valid = length > start;
  for (size_t i = start; valid && i < length; i++) valid = text[i] >= '0' && text[i] <= '9';
  /* A latin1 copy of a string with wider characters would show '?' or a truncation: both fail here. */
  if (!valid) {
    free(text);
    snprintf(message, sizeof message, "%s must be a decimal integer string", name);
    range_error(env, message);
    return NULL;
  }
  return text;
}

/* Optional last argument: { timeoutMs?: number, memoryLimitBytes?: number }. */
static bool get_budget(napi_env env, napi_value value, job_t *job) {
  job->timeout_ms = 0;
  job->memory_limit = DEFAULT_MEMORY_LIMIT;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_undefined || type == napi_null) return true;
  if (type != napi_object) {
    range_error(env, "budget must be an object");
    return false;
  }
  const char *names[3] = {"timeoutMs", "memoryLimitBytes", "bufferHeadroom"};
  for (int i = 0; i < 3; i++) {
    bool has = false;
    napi_value field;
    if (napi_has_named_property(env, value, names[i], &has) != napi_ok) return false;
    if (!has) continue;
    if (napi_get_named_property(env, value, names[i], &field) != napi_ok) return false;
    if (napi_typeof(env, field, &type) != napi_ok) return false;
    if (type == napi_undefined) continue;
    double number;
    if (i == 2) {
      if (type != napi_number || napi_get_value_double(env, field, &number) != napi_ok || !(number >= 0) ||
          number > 4096 || number != floor(number)) {
        range_error(env, "budget.bufferHeadroom must be an integer from 0 to 4096");
        return false;
      }
      job->as_buffer = true;
      job->headroom = (size_t)number;
      job->env = env;
      continue;
    }
    if (type != napi_number || napi_get_value_double(env, field, &number) != napi_ok || !(number > 0) ||
        !isfinite(number)) {
      char message[64];
      snprintf(message, sizeof message, "budget.%s must be a positive finite number", names[i]);
      range_error(env, message);
      return false;
    }
    if (i == 0)
      job->timeout_ms = number;
    else
      job->memory_limit = number >= 9.0e18 ? SIZE_MAX : (size_t)number;
  }
  return true;
}

static napi_value throw_outcome(napi_env env, const char *code) {
  const char *message = "the computation failed";
  if (strcmp(code, "ERR_MATH_TIMEOUT") == 0) message = "the computation ran past its time budget";
  if (strcmp(code, "ERR_MATH_MEMORY_LIMIT") == 0) message = "the computation needed more memory than its budget";
  if (strcmp(code, "ERR_MATH_OUT_OF_MEMORY") == 0) message = "the computation ran out of memory";
  if (strcmp(code, "ERR_MATH_TIMER") == 0) message = "could not arm the computation's timer";
  if (strcmp(code, "ERR_MATH_RANGE") == 0) {
    napi_throw_range_error(env, code, "the result would be too long for a string");
    return NULL;
  }
  napi_throw_error(env, code, message);
  return NULL;
}

static napi_value set_number(napi_env env, napi_value object, const char *name, double number) {
  napi_value value;
  if (napi_create_double(env, number, &value) != napi_ok) return NULL;
  if (napi_set_named_property(env, object, name, value) != napi_ok) return NULL;
  return object;
}

static napi_status string_result(napi_env env, result_t *out, napi_value *text);

/* Runs the job and wraps the result as { result, computeMs, convertMs }: result a string, or with
 * budget.bufferHeadroom a Uint8Array over the digits. */
static napi_value finish(napi_env env, const job_t *job) {
  result_t out;
  memset(&out, 0, sizeof out);
  const char *error = run_guarded(job, &out);
  if (error != NULL) return throw_outcome(env, error);

  napi_value text = NULL;
  if (job->as_buffer) {
    /* A Uint8Array over exactly the digits; the headroom in front of it is the caller's. */
    napi_value arraybuffer;
    CHECK(napi_get_typedarray_info(env, out.buffer, NULL, NULL, NULL, &arraybuffer, NULL));
    CHECK(napi_create_typedarray(env, napi_uint8_array, out.length, arraybuffer, job->headroom, &text));
  } else {
    CHECK(string_result(env, &out, &text));
  }

  napi_value object;
  CHECK(napi_create_object(env, &object));
  CHECK(napi_set_named_property(env, object, "result", text));
  if (set_number(env, object, "computeMs", out.compute_ms) == NULL) return throw_pending(env);
  if (set_number(env, object, "convertMs", out.convert_ms) == NULL) return throw_pending(env);
  return object;
}

/* The digits as a JS string: adopted as an external string when long, copied when short. */
static napi_status string_result(napi_env env, result_t *out_, napi_value *text_) {
  result_t out = *out_;
  napi_value text = NULL;
  bool copied = true;
  napi_status status;
  if (create_external_latin1 != NULL && out.length >= EXTERNAL_MIN_BYTES) {
    status = create_external_latin1(env, out.text, out.length, finalize_result, (void *)(uintptr_t)out.capacity,
                                    &text, &copied);
  } else {
    status = napi_create_string_latin1(env, out.text, out.length, &text);
  }
  /* On failure (a terminating thread, a string too long) nothing adopted the buffer either. */
  if (status != napi_ok || copied) result_free(out.text, out.capacity);
  *text_ = text;
  return status;
}

/* fibonacci(n, budget?) */
static napi_value fibonacci(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double n;
  if (argc < 1 || !get_index(env, argv[0], &n)) return range_error(env, "n must be a non-negative safe integer");
  /* F(n) has about n·log10(φ) digits. */
  if (too_many_digits(n * 0.20898764024997873)) return range_error(env, "F(n) would be too long for a string");
  job_t job = {.op = FIBONACCI, .n = (unsigned long)n};
  if (!get_budget(env, argv[1], &job)) return NULL;
  return finish(env, &job);
}

/* factorial(n, budget?) */
static napi_value factorial(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double n;
  if (argc < 1 || !get_index(env, argv[0], &n)) return range_error(env, "n must be a non-negative safe integer");
  /* log10 n! = lgamma(n + 1) / ln 10 */
  if (too_many_digits(lgamma(n + 1) / log(10.0))) return range_error(env, "n! would be too long for a string");
  job_t job = {.op = FACTORIAL, .n = (unsigned long)n};
  if (!get_budget(env, argv[1], &job)) return NULL;
  return finish(env, &job);
}

/* An integer text that is negative and not zero ("-0" is zero). */
static bool is_negative(const char *text) { return text[0] == '-' && strspn(text + 1, "0") != strlen(text + 1); }

/* An integer text that is zero in any spelling ("0", "+000", "-0"). */
static bool is_zero(const char *text) {
  const char *digits = text + (text[0] == '+' || text[0] == '-');
  return strspn(digits, "0") == strlen(digits);
}

/*
 * power(base, exponent, budget?): exact base^exponent for decimal integer strings, exponent >= 0. Bases
 * 0, 1 and -1 are answered for any exponent; otherwise the exponent must keep the result within limits.
 */
static napi_value power(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return range_error(env, "power needs a base and an exponent");
  char *base = get_integer_text(env, argv[0], "base");
  if (base == NULL) return NULL;
  char *exponent = get_integer_text(env, argv[1], "exponent");
  napi_value answer = NULL;
  if (exponent != NULL) {
    job_t job = {.op = POWER, .operand = {base, exponent, NULL}};
    if (is_negative(exponent))
      range_error(env, "exponent must be non-negative");
    else if (get_budget(env, argv[2], &job))
      answer = finish(env, &job);
  }
  free(base);
  free(exponent);
  return answer;
}

/* powerMod(base, exponent, modulus, budget?): base^exponent mod modulus in [0, modulus), exponent >= 0, modulus >= 1. */
static napi_value power_mod(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return range_error(env, "powerMod needs a base, an exponent and a modulus");
  char *text[3] = {NULL, NULL, NULL};
  const char *names[3] = {"base", "exponent", "modulus"};
  for (int i = 0; i < 3; i++) {
    text[i] = get_integer_text(env, argv[i], names[i]);
    if (text[i] == NULL) {
      for (int j = 0; j < i; j++) free(text[j]);
      return NULL;
    }
  }
  napi_value answer = NULL;
  /* GMP divides by the modulus (SIGFPE on zero) and inverts the base for negative exponents. */
  if (is_negative(text[1])) {
    range_error(env, "exponent must be non-negative");
  } else if (is_negative(text[2]) || is_zero(text[2])) {
    range_error(env, "modulus must be at least 1");
  } else {
    job_t job = {.op = POWER_MOD, .operand = {text[0], text[1], text[2]}};
    if (get_budget(env, argv[3], &job)) answer = finish(env, &job);
  }
  for (int i = 0; i < 3; i++) free(text[i]);
  return answer;
}

/* stats(): blocks and bytes GMP holds through us across the process (0 and 0 between calls). */
static napi_value stats(napi_env env, napi_callback_info info) {
  napi_value object;
  CHECK(napi_create_object(env, &object));
  if (set_number(env, object, "blocks", (double)__atomic_load_n(&total_blocks, __ATOMIC_RELAXED)) == NULL ||
      set_number(env, object, "bytes", (double)__atomic_load_n(&total_bytes, __ATOMIC_RELAXED)) == NULL)
    return throw_pending(env);
  return object;
}

NAPI_MODULE_INIT() {
  pthread_once(&init_once, init_process);
  napi_property_descriptor methods[] = {
      {"fibonacci", NULL, fibonacci, NULL, NULL, NULL, napi_enumerable, NULL},
      {"factorial", NULL, factorial, NULL, NULL, NULL, napi_enumerable, NULL},
      {"power", NULL, power, NULL, NULL, NULL, napi_enumerable, NULL},
      {"powerMod", NULL, power_mod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, stats, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods) != napi_ok) return NULL;
  napi_value value;
  if (napi_create_string_utf8(env, gmp_version, NAPI_AUTO_LENGTH, &value) != napi_ok ||
      napi_set_named_property(env, exports, "version", value) != napi_ok)
    return NULL;
  if (napi_get_boolean(env, timer_signal != 0, &value) != napi_ok ||
      napi_set_named_property(env, exports, "cancellable", value) != napi_ok)
    return NULL;
  if (napi_create_double(env, MAX_RESULT_DIGITS, &value) != napi_ok ||
      napi_set_named_property(env, exports, "maxResultDigits", value) != napi_ok)
    return NULL;
  return exports;
}
