/* vmgui._stophook: the native UC_HOOK_BLOCK callback that stops the engine safely.
 *
 * Stopping unicorn from another thread (uc_emu_stop off-thread, or emu_start's timeout)
 * can re-execute the instruction that was running (see ARCHITECTURE.md).  Instead, other
 * threads only set `stop` in a shared struct; this callback runs on the emulation thread
 * at every translation-block boundary, counts blocks, and calls uc_emu_stop itself when
 * the flag is set, when the block budget `limit` (0 = none) is reached, or when the host's
 * monotonic clock reaches `deadline_ns` (real-time mode's device deadlines: no timer
 * thread, no lock and no GIL on the way).  While `irq_wait` is set (the PIC holds an IRQ
 * the CPU could not take because IF was clear) it also reads EFLAGS at every block and
 * stops as soon as IF is set again (STI, POPF, IRET): the IRQ's window, as on a real CPU,
 * instead of at the next timer deadline, where a higher-priority IRQ would win again.
 *
 * It needs neither unicorn's headers nor linking: the caller passes uc_emu_stop's address
 * inside the control struct.  The module only exports the callback's address.
 *
 * It also holds the crash guard: vmgui_guarded_emu_start() calls uc_emu_start under
 * sigsetjmp, and a SIGSEGV/SIGBUS/SIGILL/SIGFPE raised on that thread while the engine
 * runs jumps back out of it instead of killing the process.  Guest code cannot fault the
 * host by itself, so such a signal is a bug in the engine (seen: unicorn 2.1.4's x87
 * translator leaks one TCG temporary per fcmov/fmov-ST(i) instruction and overruns its
 * fixed 512-entry temporaries array on a block of ~470 of them).  The engine's
 * translator state is damaged after that: the caller must never run it again; the CPU
 * registers (a separate structure) stay readable for the crash report.
 * A signal outside a guarded run goes to whatever handler was installed before ours.
 *
 * Last, the TLB fill hook (vmgui_tlb_fill, see vmgui.core.fasttlb): with the engine's
 * TLB type set to UC_TLB_VIRTUAL it translates linear addresses while paging is off
 * (linear = physical, as the CPU's own walk does then) and gives data accesses to pages
 * that never held code an entry without execute permission.  Unicorn keeps every store
 * through an executable entry on its slow path (its dirty tracking of code pages is a
 * stub); a data-only entry goes fast after its first store.  A page is marked as code
 * at its first instruction fetch, and the whole TLB is flushed then, so no data-only
 * entry of a code page survives (stores to code pages keep their self-modifying-code
 * checks).  With paging on it switches the engine back to the CPU's TLB and fails the
 * fill: the engine stops with UC_ERR_EXCEPTION at the access, which the caller runs
 * again under the CPU's own page walk.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#if defined(__linux__) && defined(__x86_64__)
#include <ucontext.h>
#endif

typedef int (*emu_stop_fn)(void *uc);
typedef int (*reg_read_fn)(void *uc, int regid, void *value);
typedef int (*emu_start_fn)(void *uc, uint64_t begin, uint64_t until, uint64_t timeout,
                            size_t count);

typedef struct {
    volatile int32_t stop;   /* set to 1 by any thread to request a stop */
    int32_t stopped_by;      /* 1 = flag, 2 = block budget, 3 = deadline, 4 = IRQ window */
    uint64_t blocks;         /* blocks executed since the counter was last reset */
    uint64_t limit;          /* stop when blocks reaches this; 0 = no budget */
    emu_stop_fn emu_stop;    /* uc_emu_stop from the loaded libunicorn */
    emu_start_fn emu_start;  /* uc_emu_start from the loaded libunicorn */
    int32_t crash_signal;    /* set by the guard: the signal that ended the run */
    int32_t reserved;
    uint64_t crash_address;  /* the faulting data address (si_addr) */
    uint64_t crash_pc;       /* the host instruction that faulted, 0 if unknown */
    uint64_t deadline_ns;    /* stop once CLOCK_MONOTONIC reaches this; 0 = none */
    reg_read_fn reg_read;    /* uc_reg_read from the loaded libunicorn */
    int32_t eflags_reg;      /* UC_X86_REG_EFLAGS */
    volatile int32_t irq_wait; /* an IRQ is pending while IF = 0: stop once IF is set */
} vmgui_stop_ctl;

#define VMGUI_EFLAGS_IF 0x200u

/* The deadline is looked at every DEADLINE_EVERY blocks (a power of two): a clock read
 * costs ~20 ns, a block 5-100 ns, so a stop comes at most a few microseconds late and
 * the check costs well under 1 ns a block. */
#define DEADLINE_EVERY 64

#define GUARDED_CRASH (-1)   /* vmgui_guarded_emu_start's result after a caught signal */

typedef struct {
    sigjmp_buf env;
    vmgui_stop_ctl *ctl;
    volatile sig_atomic_t active;
} vmgui_guard;

/* Per thread: the guard of the run in progress on this thread (several VMs may run in
 * one process, each on its own thread). */
static __thread vmgui_guard *current_guard;

static const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
#define N_GUARDED (sizeof(guarded_signals) / sizeof(guarded_signals[0]))
/* Process-wide by nature: signal dispositions belong to the process.  Written once, by
 * install_guard() under the GIL, before any guarded run. */
static struct sigaction previous_actions[N_GUARDED];
static int guard_installed;

static void guard_handler(int sig, siginfo_t *info, void *context)
{
    vmgui_guard *guard = current_guard;
    /* Only while libunicorn itself runs: ctypes released the GIL for the call, and a
     * hook (Python code) takes it back.  Jumping out of a fault inside Python would
     * leave the interpreter broken, so that case keeps the old behaviour. */
    if (guard != NULL && guard->active && !PyGILState_Check()) {
        guard->active = 0;
        guard->ctl->crash_signal = sig;
        guard->ctl->crash_address = (uint64_t)(uintptr_t)info->si_addr;
        guard->ctl->crash_pc = 0;
#if defined(__linux__) && defined(__x86_64__)
        if (context != NULL)
            guard->ctl->crash_pc = (uint64_t)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
#else
        (void)context;
#endif
        siglongjmp(guard->env, 1);
    }
    /* Not ours: put the previous handler back; the faulting instruction runs again and
     * reaches it (a signal sent by kill()/raise() is raised again instead). */
    for (size_t i = 0; i < N_GUARDED; i++) {
        if (guarded_signals[i] == sig) {
            sigaction(sig, &previous_actions[i], NULL);
            break;
        }
    }
    if (info == NULL || info->si_code <= 0)
        raise(sig);
}

static int vmgui_guarded_emu_start(vmgui_stop_ctl *ctl, void *uc, uint64_t begin,
                                   uint64_t until, uint64_t timeout, size_t count)
{
    vmgui_guard guard;
    vmgui_guard *outer = current_guard;
    int result;
    guard.ctl = ctl;
    guard.active = 0;
    ctl->crash_signal = 0;
    if (sigsetjmp(guard.env, 1)) {
        current_guard = outer;
        return GUARDED_CRASH;
    }
    current_guard = &guard;
    guard.active = 1;
    result = ctl->emu_start(uc, begin, until, timeout, count);
    guard.active = 0;
    current_guard = outer;
    return result;
}

static int irq_window(void *uc, vmgui_stop_ctl *ctl)
{
    uint64_t eflags = 0;
    if (ctl->reg_read(uc, ctl->eflags_reg, &eflags) != 0)
        return 1; /* cannot tell: stop and let the caller look */
    return (eflags & VMGUI_EFLAGS_IF) != 0;
}

static void vmgui_block_hook(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    vmgui_stop_ctl *ctl = (vmgui_stop_ctl *)user_data;
    (void)address;
    (void)size;
    ctl->blocks++;
    if (ctl->stop) {
        ctl->stopped_by = 1;
        ctl->emu_stop(uc);
    } else if (ctl->limit && ctl->blocks >= ctl->limit) {
        ctl->stopped_by = 2;
        ctl->emu_stop(uc);
    } else if (ctl->irq_wait && irq_window(uc, ctl)) {
        ctl->irq_wait = 0;
        ctl->stopped_by = 4;
        ctl->emu_stop(uc);
    } else if (ctl->deadline_ns && (ctl->blocks & (DEADLINE_EVERY - 1)) == 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec >= ctl->deadline_ns) {
            ctl->stopped_by = 3;
            ctl->emu_stop(uc);
        }
    }
}

typedef int (*uc_ctl_fn)(void *uc, uint32_t control, ...);

/* unicorn.h's uc_tlb_entry and the values used here (UC_MEM_FETCH, UC_PROT_*, the x86
 * CR0 register id and the uc_ctl control words come from the Python side) */
typedef struct {
    uint64_t paddr;
    int perms;
} vmgui_tlb_entry;

#define VMGUI_MEM_FETCH 18
#define VMGUI_PROT_RW 3
#define VMGUI_PROT_RWX 7
#define VMGUI_CR0_PG 0x80000000u
#define VMGUI_PAGES (1u << 20) /* 4 KiB pages of the 4 GiB linear space */

typedef struct {
    reg_read_fn reg_read;     /* uc_reg_read */
    uc_ctl_fn ctl;            /* uc_ctl */
    uint8_t *code_pages;      /* VMGUI_PAGES bits: an instruction was fetched there */
    uint64_t fills;           /* TLB fills answered */
    uint64_t code_marks;      /* pages marked as code (each flushed the TLB) */
    int32_t cr0_reg;          /* UC_X86_REG_CR0 */
    int32_t handovers;        /* times paging was found on and the CPU's TLB took over */
    uint32_t ctl_tlb_type;    /* uc_ctl control word: write the TLB type */
    uint32_t ctl_tlb_flush;   /* uc_ctl control word: flush the TLB */
    int32_t tlb_cpu;          /* UC_TLB_CPU */
    int32_t reserved;
} vmgui_tlb_ctl;

static bool vmgui_tlb_fill(void *uc, uint64_t vaddr, int type, vmgui_tlb_entry *entry,
                           void *user_data)
{
    vmgui_tlb_ctl *t = (vmgui_tlb_ctl *)user_data;
    uint64_t cr0 = 0;
    uint32_t page;
    int code;
    if (t->reg_read(uc, t->cr0_reg, &cr0) != 0 || (cr0 & VMGUI_CR0_PG) || vaddr >> 32) {
        t->handovers++;
        t->ctl(uc, t->ctl_tlb_type, t->tlb_cpu);
        return false;
    }
    t->fills++;
    page = (uint32_t)(vaddr >> 12);
    code = (t->code_pages[page >> 3] >> (page & 7)) & 1;
    if (type == VMGUI_MEM_FETCH && !code) {
        t->code_pages[page >> 3] |= (uint8_t)(1u << (page & 7));
        t->code_marks++;
        t->ctl(uc, t->ctl_tlb_flush); /* drop every data-only entry of this page */
        code = 1;
    }
    entry->paddr = vaddr & ~(uint64_t)0xFFF;
    entry->perms = code ? VMGUI_PROT_RWX : VMGUI_PROT_RW;
    return true;
}

static PyObject *hook_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)&vmgui_block_hook);
}

static PyObject *guarded_start_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)&vmgui_guarded_emu_start);
}

static PyObject *tlb_fill_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)&vmgui_tlb_fill);
}

static PyObject *tlb_ctl_size(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromSize_t(sizeof(vmgui_tlb_ctl));
}

static PyObject *install_guard(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    if (!guard_installed) {
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_sigaction = guard_handler;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        for (size_t i = 0; i < N_GUARDED; i++) {
            if (sigaction(guarded_signals[i], &action, &previous_actions[i]) != 0)
                return PyErr_SetFromErrno(PyExc_OSError);
        }
        guard_installed = 1;
    }
    Py_RETURN_NONE;
}

static PyObject *ctl_size(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromSize_t(sizeof(vmgui_stop_ctl));
}

static PyMethodDef methods[] = {
    {"hook_address", hook_address, METH_NOARGS, "Address of the native block hook."},
    {"guarded_start_address", guarded_start_address, METH_NOARGS,
     "Address of vmgui_guarded_emu_start (returns -1 after a caught engine crash)."},
    {"install_guard", install_guard, METH_NOARGS,
     "Install the crash guard's signal handlers (once per process)."},
    {"ctl_size", ctl_size, METH_NOARGS, "sizeof the control struct (for a layout check)."},
    {"tlb_fill_address", tlb_fill_address, METH_NOARGS, "Address of the TLB fill hook."},
    {"tlb_ctl_size", tlb_ctl_size, METH_NOARGS, "sizeof the TLB hook's struct."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_stophook", "Native safe-stop block hook for unicorn.", -1, methods,
};

PyMODINIT_FUNC PyInit__stophook(void) { return PyModule_Create(&module); }
