; ATA and ATAPI through the legacy IDE ports, in real mode, driven by IRQs 14 and 15
; (tests/integration/test_ata_guest.py).  The boot sector loads the rest (4 sectors) to
; 8000h.  Then, printing each result on the screen and COM1:
;   IDENTIFY DEVICE on the primary master -> "MODEL <first 16 characters>",
;     "CHS <cylinders> <heads> <sectors> LBA <LBA28 sectors>" (hex words)
;   READ SECTORS of LBA 0 -> "IRQ14 STATUS <status the IRQ 14 handler read>",
;     "SECTOR0 <8 bytes from offset 3> SIG <word at 510>"
;   WRITE SECTORS of LBA 1 ("WRITTEN BY ATA", then zeros), then int 13h AH=02h reads C:'s
;     sector 2 (CHS 0/0/2 = LBA 1) back -> "INT13 <its first 14 bytes>"
;   a soft reset of the secondary channel, then its master's signature -> "ATAPI SIG
;     <LBA High><LBA Mid>" (EB14: a packet device; otherwise "NO ATAPI", CD part skipped)
;   PACKET INQUIRY -> "INQUIRY <vendor and product, 24 characters>"
;   PACKET READ(10) of LBA 16 -> "PVD <bytes 1-5> <volume identifier, 11 characters>"
;   "IRQS <IRQ 14 count> <IRQ 15 count>", then "DONE".
; Each wait for an interrupt is STI/HLT until the handler sets its flag; the handlers read
; the Status register (acknowledging the interrupt), count, and send EOI to both PICs.
; An ATAPI command that ends with ERR prints "ATAPI ERR <error register>" and stops.
; Build: nasm -f bin -o atapio.img atapio.asm
%include "common.inc"
STAGE2_SECTORS equ 4
BUF     equ 0x9000
        BOOT_START
        mov ax, 0x0200 | STAGE2_SECTORS
        mov cx, 0x0002                  ; cylinder 0, sector 2
        xor dh, dh                      ; head 0 (DL: boot drive from the BIOS)
        mov bx, 0x8000
        int 0x13
        jc .halt
        jmp 0:0x8000
.halt:  hlt
        jmp .halt
        BOOT_END

; ------------------------------------------------------------------ stage 2 at 8000h
        section stage2 follows=.text vstart=0x8000
start:  cli
        mov word [0x76 * 4], irq14      ; IRQ 14 = int 76h, IRQ 15 = int 77h
        mov word [0x76 * 4 + 2], 0
        mov word [0x77 * 4], irq15
        mov word [0x77 * 4 + 2], 0
        in al, 0xa1
        and al, 0x3f                    ; unmask IRQ 14 and 15 at the slave PIC
        out 0xa1, al
        cld
        sti
        ; ---------------------------------------------------------- IDENTIFY DEVICE
        mov dx, 0x3f6
        xor al, al                      ; nIEN clear
        out dx, al
        mov dx, 0x1f6
        mov al, 0xa0                    ; master
        out dx, al
        mov byte [flag14], 0
        mov dx, 0x1f7
        mov al, 0xec
        out dx, al
        call wait14
        mov dx, 0x1f0
        mov di, BUF
        mov cx, 256
        rep insw
        mov si, s_model
        call print_si
        mov si, BUF + 27 * 2
        mov cx, 8
.model: lodsw                           ; the first character is the high byte
        push ax
        mov al, ah
        call putc
        pop ax
        call putc
        loop .model
        mov si, s_chs
        call print_si
        mov ax, [BUF + 1 * 2]
        call hex16sp
        mov ax, [BUF + 3 * 2]
        call hex16sp
        mov ax, [BUF + 6 * 2]
        call hex16sp
        mov si, s_lba
        call print_si
        mov ax, [BUF + 61 * 2]
        call hex16
        mov ax, [BUF + 60 * 2]
        call hex16
        ; ---------------------------------------------------------- READ SECTORS LBA 0
        mov dx, 0x1f2
        mov al, 1                       ; one sector
        out dx, al
        xor al, al
        inc dx                          ; 1F3h-1F5h: LBA 0
        out dx, al
        inc dx
        out dx, al
        inc dx
        out dx, al
        inc dx
        mov al, 0xe0                    ; LBA mode, master
        out dx, al
        mov byte [flag14], 0
        inc dx
        mov al, 0x20
        out dx, al
        call wait14
        mov si, s_status
        call print_si
        mov al, [st14]
        call hex8
        mov dx, 0x1f0
        mov di, BUF
        mov cx, 256
        rep insw
        mov si, s_sector
        call print_si
        mov si, BUF + 3
        mov cx, 8
.sect:  lodsb
        call putc
        loop .sect
        mov si, s_sig
        call print_si
        mov ax, [BUF + 510]
        call hex16
        ; ---------------------------------------------------------- WRITE SECTORS LBA 1
        mov di, BUF
        mov cx, 512
        xor al, al
        rep stosb
        mov si, written
        mov di, BUF
        mov cx, 14
        rep movsb
        mov dx, 0x1f2
        mov al, 1
        out dx, al
        inc dx
        out dx, al                      ; LBA 1
        xor al, al
        inc dx
        out dx, al
        inc dx
        out dx, al
        inc dx
        mov al, 0xe0
        out dx, al
        mov byte [flag14], 0
        inc dx
        mov al, 0x30
        out dx, al
        mov dx, 0x3f6
.wdrq:  in al, dx                       ; data-out: the first block comes without IRQ
        test al, 0x08
        jz .wdrq
        mov si, BUF
        mov dx, 0x1f0
        mov cx, 256
        rep outsw
        call wait14                     ; the interrupt after the block is written
        mov di, BUF
        mov cx, 512
        xor al, al
        rep stosb
        mov ax, 0x0201                  ; int 13h: read 1 sector of C:, CHS 0/0/2
        mov cx, 0x0002
        mov dx, 0x0080
        mov bx, BUF
        int 0x13
        mov si, s_int13
        call print_si
        mov si, BUF
        mov cx, 14
.i13:   lodsb
        call putc
        loop .i13
        ; ---------------------------------------------------------- ATAPI
        mov dx, 0x376
        mov al, 0x04                    ; SRST: the devices leave their signatures
        out dx, al
        xor al, al                      ; SRST off, nIEN clear
        out dx, al
.rst:   in al, dx
        test al, 0x80
        jnz .rst
        mov dx, 0x176
        mov al, 0xa0
        out dx, al
        mov si, s_atapi
        call print_si
        mov dx, 0x175
        in al, dx
        mov ah, al
        dec dx
        in al, dx
        push ax
        call hex16
        pop ax
        cmp ax, 0xeb14
        je .cd
        mov si, s_nocd
        call print_si
        jmp done
.cd:    mov si, inquiry
        call packet
        mov si, s_inquiry
        call print_si
        mov si, BUF + 8
        mov cx, 24
.inq:   lodsb
        call putc
        loop .inq
        mov si, read10
        call packet
        mov si, s_pvd
        call print_si
        mov si, BUF + 1
        mov cx, 5
.pvd:   lodsb
        call putc
        loop .pvd
        mov al, ' '
        call putc
        mov si, BUF + 40
        mov cx, 11
.vol:   lodsb
        call putc
        loop .vol
done:   mov si, s_irqs
        call print_si
        mov al, [count14]
        call hex8
        mov al, ' '
        call putc
        mov al, [count15]
        call hex8
        mov si, s_done
        call print_si
.halt:  hlt
        jmp .halt

; packet: send the 12-byte packet at DS:SI to the secondary master, read the reply into
; BUF one DRQ chunk per IRQ 15 (byte count from LBA Mid/High), until the status phase.
packet: mov dx, 0x171
        xor al, al                      ; PIO
        out dx, al
        mov dx, 0x174                   ; byte count limit 0800h
        xor al, al
        out dx, al
        inc dx
        mov al, 0x08
        out dx, al
        mov byte [flag15], 0
        mov dx, 0x177
        mov al, 0xa0
        out dx, al
        mov dx, 0x376
.drq:   in al, dx                       ; Alternate Status: wait for DRQ, no interrupt
        test al, 0x01
        jnz .err
        test al, 0x08
        jz .drq
        mov dx, 0x170
        mov cx, 6
        rep outsw
        call wait15
        mov di, BUF
.chunk: test byte [st15], 0x01
        jnz .err
        test byte [st15], 0x08
        jz .end
        mov dx, 0x174
        in al, dx
        mov cl, al
        inc dx
        in al, dx
        mov ch, al
        shr cx, 1
        mov dx, 0x170
        mov byte [flag15], 0
        rep insw
        call wait15
        jmp .chunk
.end:   ret
.err:   mov si, s_atapierr
        call print_si
        mov dx, 0x171
        in al, dx
        call hex8
        mov si, s_crlf
        call print_si
.halt:  hlt
        jmp .halt

wait14: sti
.w:     cmp byte [flag14], 0
        jne .ok
        hlt
        jmp .w
.ok:    ret

wait15: sti
.w:     cmp byte [flag15], 0
        jne .ok
        hlt
        jmp .w
.ok:    ret

irq14:  push ax
        push dx
        mov dx, 0x1f7
        in al, dx                       ; Status: acknowledges the interrupt
        mov [cs:st14], al
        mov byte [cs:flag14], 1
        inc byte [cs:count14]
        jmp eoi
irq15:  push ax
        push dx
        mov dx, 0x177
        in al, dx
        mov [cs:st15], al
        mov byte [cs:flag15], 1
        inc byte [cs:count15]
eoi:    mov al, 0x20
        out 0xa0, al
        out 0x20, al
        pop dx
        pop ax
        iret

; hex16: AX as four hex digits; hex16sp: the same and a space
hex16sp:
        call hex16
        mov al, ' '
        jmp putc
hex16:  push ax
        mov al, ah
        call hex8
        pop ax
        jmp hex8

        PRINT_HELPERS
        HEX_HELPERS

flag14:  db 0
flag15:  db 0
st14:    db 0
st15:    db 0
count14: db 0
count15: db 0
written: db "WRITTEN BY ATA"
inquiry: db 0x12, 0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0
read10:  db 0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0, 0, 0
s_model:   db "MODEL ", 0
s_chs:     db 13, 10, "CHS ", 0
s_lba:     db "LBA ", 0
s_status:  db 13, 10, "IRQ14 STATUS ", 0
s_sector:  db 13, 10, "SECTOR0 ", 0
s_sig:     db " SIG ", 0
s_int13:   db 13, 10, "INT13 ", 0
s_atapi:   db 13, 10, "ATAPI SIG ", 0
s_nocd:    db 13, 10, "NO ATAPI", 0
s_inquiry: db 13, 10, "INQUIRY ", 0
s_pvd:     db 13, 10, "PVD ", 0
s_irqs:    db 13, 10, "IRQS ", 0
s_done:    db 13, 10, "DONE", 13, 10, 0
s_atapierr: db 13, 10, "ATAPI ERR ", 0
s_crlf:    db 13, 10, 0
        times STAGE2_SECTORS * 512 - ($ - $$) db 0
