; Executes an undefined opcode (UD2) with no int 06h handler: the VM must stop with a
; readable "invalid opcode" report.
%include "common.inc"
        BOOT_START
        mov si, msg
        call print_si
        ud2
        cli
        hlt
msg:    db "UD START", 13, 10, 0
        PRINT_HELPERS
        BOOT_END
