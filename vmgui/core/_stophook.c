/* vmgui._stophook: the native UC_HOOK_BLOCK callback that stops the engine safely.
 *
 * Stopping unicorn from another thread (uc_emu_stop off-thread, or emu_start's timeout)
 * can re-execute the instruction that was running (see ARCHITECTURE.md).  Instead, other
 * threads only set `stop` in a shared struct; this callback runs on the emulation thread
 * at every translation-block boundary, counts blocks, and calls uc_emu_stop itself when
 * the flag is set or when the block budget `limit` (0 = none) is reached.
 *
 * It needs neither unicorn's headers nor linking: the caller passes uc_emu_stop's address
 * inside the control struct.  The module only exports the callback's address.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef int (*emu_stop_fn)(void *uc);

typedef struct {
    volatile int32_t stop;   /* set to 1 by any thread to request a stop */
    int32_t stopped_by;      /* 1 = flag, 2 = block budget (written here) */
    uint64_t blocks;         /* blocks executed since the counter was last reset */
    uint64_t limit;          /* stop when blocks reaches this; 0 = no budget */
    emu_stop_fn emu_stop;    /* uc_emu_stop from the loaded libunicorn */
} vmgui_stop_ctl;

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
    }
}

static PyObject *hook_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)&vmgui_block_hook);
}

static PyObject *ctl_size(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromSize_t(sizeof(vmgui_stop_ctl));
}

static PyMethodDef methods[] = {
    {"hook_address", hook_address, METH_NOARGS, "Address of the native block hook."},
    {"ctl_size", ctl_size, METH_NOARGS, "sizeof the control struct (for a layout check)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_stophook", "Native safe-stop block hook for unicorn.", -1, methods,
};

PyMODINIT_FUNC PyInit__stophook(void) { return PyModule_Create(&module); }
