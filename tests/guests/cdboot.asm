; An El Torito no-emulation boot image (tests/integration/test_cdrom_boot.py puts it on an
; ISO with xorriso).  The BIOS loads it at 0000:7C00 with DL = the CD drive; it asks the
; BIOS about the drive and prints, on screen and COM1:
;   "DL=E0 EDD=21 BPS=0800 PVD=CD001 VOL=VMGUI CD SPEC=13 00 E0" then "CD OK"
; DL: the boot drive; EDD: int 13h AH=41h's version; BPS: bytes per sector from AH=48h;
; PVD: bytes 1-5 of sector 16 read with AH=42h (2048 bytes); VOL: the first 8 bytes of
; its volume identifier; SPEC: the size, media and drive of int 13h AX=4B01h's packet.
; Any failing call prints "ERR" and the function (AH) and stops.
%include "common.inc"
        BOOT_START
        mov [drive], dl
        mov si, s_dl
        call print_si
        mov al, [drive]
        call hex8
        ; AH=41h: extensions present?
        mov ah, 0x41
        mov bx, 0x55aa
        mov dl, [drive]
        int 0x13
        mov byte [func], 0x41
        jc fail
        cmp bx, 0xaa55
        jne fail
        push ax
        mov si, s_edd
        call print_si
        pop ax
        mov al, ah
        call hex8
        ; AH=48h: drive parameters -> bytes per sector
        mov word [params], 0x1a
        mov ah, 0x48
        mov dl, [drive]
        mov si, params
        int 0x13
        mov byte [func], 0x48
        jc fail
        mov si, s_bps
        call print_si
        mov al, [params + 0x19]
        call hex8
        mov al, [params + 0x18]
        call hex8
        ; AH=42h: read CD sector 16 (the primary volume descriptor) to 0000:8000
        mov ah, 0x42
        mov dl, [drive]
        mov si, dap
        int 0x13
        mov byte [func], 0x42
        jc fail
        mov si, s_pvd
        call print_si
        mov byte [0x8006], 0        ; "CD001" ends at byte 6
        mov si, 0x8001
        call print_si
        mov si, s_vol
        call print_si
        mov byte [0x8028 + 8], 0    ; the volume identifier starts at byte 40
        mov si, 0x8028
        call print_si
        ; AX=4B01h: El Torito status -> specification packet
        mov ax, 0x4b01
        mov dl, [drive]
        mov si, spec
        int 0x13
        mov byte [func], 0x4b
        jc fail
        mov si, s_spec
        call print_si
        mov al, [spec]
        call hex8
        mov al, ' '
        call putc
        mov al, [spec + 1]
        call hex8
        mov al, ' '
        call putc
        mov al, [spec + 2]
        call hex8
        mov si, s_ok
        call print_si
halt:   hlt
        jmp halt
fail:   mov si, s_err
        call print_si
        mov al, [func]
        call hex8
        jmp halt

        PRINT_HELPERS
        HEX_HELPERS

s_dl    db "DL=", 0
s_edd   db " EDD=", 0
s_bps   db " BPS=", 0
s_pvd   db " PVD=", 0
s_vol   db " VOL=", 0
s_spec  db " SPEC=", 0
s_ok    db 13, 10, "CD OK", 13, 10, 0
s_err   db 13, 10, "ERR ", 0
dap     db 0x10, 0
        dw 1                    ; one 2048-byte sector
        dw 0x8000, 0x0000       ; to 0000:8000
        dq 16                   ; LBA 16
drive   db 0
func    db 0
params  equ 0x7e00              ; 1Ah-byte EDD parameter buffer
spec    equ 0x7e40              ; 13h-byte El Torito packet
        BOOT_END
