; Divides by zero with no handler installed: vmgui must stop the VM with a report
; ("divide error") instead of looping on the BIOS's default IRET.
%include "common.inc"
        BOOT_START
        mov si, msg
        call print_si
        xor ax, ax
        xor cx, cx
        div cx
        mov si, after
        call print_si
        cli
        hlt
msg:    db "DIV0 START", 13, 10, 0
after:  db "NOT REACHED", 0
        PRINT_HELPERS
        BOOT_END
