; REP INS/OUTS on the ATA data port in real mode and in 32-bit protected mode with paging
; (tests/integration/test_string_io.py: run with vmgui's bulk string-I/O path and without
; it, the results must be the same).  The boot sector loads the rest (2 sectors) to 8000h.
; The primary master is driven by polling (nIEN set, no IRQs).  After each case the
; guest stores ECX and EDI/ESI (as dwords) in the table at 600h:
;   R1 READ SECTORS 0-1, one rep insw of 512 words to 2000:0000 (crosses the DRQ blocks)
;   R2 READ SECTORS 2: rep insw of 100 words, then of 156 more, to 3000:0000
;   R3 READ SECTORS 3: STD, rep insw of 256 words from 4000:01FE down (DF=1)
;   R4 READ SECTORS 4: rep insw of 256 words at 5000:FF00 (DI wraps to 5000:0000)
;   R5 WRITE SECTORS 10: rep outsw of 256 words from 2000:0000; READ SECTORS 10 back by
;      rep insw to 6000:0000 (the table keeps the outsw's CX and SI)
;   R6 READ SECTORS 5: rep insd (o32) of 128 dwords to 6800:0000
;   R7 code at 7000:0100 (mov eax, 11111111h; retf) is called, then READ SECTORS 40 to
;      7000:0000 by rep insw puts other code there and it is called again (EAX both times)
; then paging on (0-4 MiB identity; linear 400000h -> 200000h, 401000h -> 300000h,
; 402000h not present until the page-fault handler maps it to 280000h):
;   P1 READ SECTORS 20-21: rep insd of 256 dwords to linear 400F00h (crosses a page)
;   P2 READ SECTORS 22-23: rep insw of 512 words to linear 401F00h (its second page faults)
;   P3 WRITE SECTORS 30: rep outsd of 128 dwords from linear 400F00h
;   P4 as R7 at linear 400100h (READ SECTORS 41 to 400000h)
; Table: R1 CX DI, R2 CX DI, R3 CX DI, R4 CX DI, R5 CX SI, R6 ECX EDI, P1 ECX EDI,
; P2 ECX EDI, page faults, P3 ECX ESI, "DONE", R7 EAX EAX, P4 EAX EAX.
; Build: nasm -f bin -o stringio.img stringio.asm
%include "common.inc"
STAGE2_SECTORS equ 2
TABLE   equ 0x600
PD      equ 0x80000
PT0     equ 0x81000
PT1     equ 0x82000
IDT     equ 0x83000
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

; ATA_ROUTINE cmd, idle: the routines for the current bits.  cmd: EAX = LBA, BL = sector
; count, BH = command; returns when the device is no longer busy, DX = 1F0h.  idle: the wait.
%macro ATA_ROUTINE 2
%1:     push eax
        mov dx, 0x1f6
        shr eax, 24
        and al, 0x0f
        or al, 0xe0
        out dx, al
        pop eax
        mov dx, 0x1f3
        out dx, al
        inc dx
        shr eax, 8
        out dx, al
        inc dx
        shr eax, 8
        out dx, al
        mov dx, 0x1f2
        mov al, bl
        out dx, al
        mov dx, 0x1f7
        mov al, bh
        out dx, al
%2:     mov dx, 0x1f7
%%wait: in al, dx
        test al, 0x80
        jnz %%wait
        mov dx, 0x1f0
        ret
%endmacro

; ATA_CMD routine, lba, count, command
%macro ATA_CMD 4
        mov eax, %2
        mov bl, %3
        mov bh, %4
        call %1
%endmacro

; ------------------------------------------------------------------ stage 2 at 8000h
        section stage2 follows=.text vstart=0x8000
        bits 16
start:  cli
        cld
        mov dx, 0x3f6
        mov al, 0x02                    ; nIEN: no interrupts, the guest polls
        out dx, al
        mov dx, 0x1f0
        ; R1
        ATA_CMD ata_cmd, 0, 2, 0x20
        mov ax, 0x2000
        mov es, ax
        xor di, di
        mov cx, 512
        rep insw
        mov [TABLE + 0], ecx
        mov [TABLE + 4], edi
        ; R2
        ATA_CMD ata_cmd, 2, 1, 0x20
        mov ax, 0x3000
        mov es, ax
        xor di, di
        mov cx, 100
        rep insw
        mov cx, 156
        rep insw
        mov [TABLE + 8], ecx
        mov [TABLE + 12], edi
        ; R3
        ATA_CMD ata_cmd, 3, 1, 0x20
        mov ax, 0x4000
        mov es, ax
        mov di, 0x01fe
        mov cx, 256
        std
        rep insw
        cld
        mov [TABLE + 16], ecx
        mov [TABLE + 20], edi
        ; R4
        ATA_CMD ata_cmd, 4, 1, 0x20
        mov ax, 0x5000
        mov es, ax
        mov edi, 0x1234ff00             ; the high half must survive a 16-bit address size
        mov cx, 256
        rep insw
        mov [TABLE + 24], ecx
        mov [TABLE + 28], edi
        ; R5
        ATA_CMD ata_cmd, 10, 1, 0x30
        mov ax, 0x2000
        mov ds, ax
        xor si, si
        mov cx, 256
        rep outsw
        xor ax, ax
        mov ds, ax
        mov [TABLE + 32], ecx
        mov [TABLE + 36], esi
        call ata_idle
        ATA_CMD ata_cmd, 10, 1, 0x20
        mov ax, 0x6000
        mov es, ax
        xor di, di
        mov cx, 256
        rep insw
        ; R6
        ATA_CMD ata_cmd, 5, 1, 0x20
        mov ax, 0x6800
        mov es, ax
        xor edi, edi
        mov ecx, 128
        rep insd
        mov [TABLE + 40], ecx
        mov [TABLE + 44], edi
        ; R7: code at 7000:0100 runs, then a sector with other code is read over it
        mov ax, 0x7000
        mov es, ax
        mov dword [es:0x100], 0x1111b866    ; mov eax, 11111111h; retf
        mov dword [es:0x104], 0x00cb1111
        call 0x7000:0x0100
        mov [TABLE + 80], eax
        ATA_CMD ata_cmd, 40, 1, 0x20
        xor di, di
        mov cx, 256
        rep insw
        call 0x7000:0x0100
        mov [TABLE + 84], eax
        ; protected mode with paging
        lgdt [gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm

        ATA_ROUTINE ata_cmd, ata_idle

        bits 32
pm:     mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x9f000
        mov edi, PT0                    ; 0-4 MiB identity
        mov eax, 0x003
        mov ecx, 1024
.map:   stosd
        add eax, 0x1000
        loop .map
        mov edi, PT1
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov dword [PT1 + 0], 0x200003
        mov dword [PT1 + 4], 0x300003
        mov edi, PD
        mov ecx, 1024
        rep stosd
        mov dword [PD + 0], PT0 | 3
        mov dword [PD + 4], PT1 | 3
        mov edi, IDT                    ; vector 14: interrupt gate to pf_handler
        mov ecx, 64
        rep stosd
        mov eax, pf_handler
        mov [IDT + 14 * 8], ax
        mov word [IDT + 14 * 8 + 2], 0x08
        mov word [IDT + 14 * 8 + 4], 0x8e00
        shr eax, 16
        mov [IDT + 14 * 8 + 6], ax
        lidt [idtr]
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .paged
.paged: ; P1
        ATA_CMD ata_cmd32, 20, 2, 0x20
        mov edi, 0x400f00
        mov ecx, 256
        rep insd
        mov [TABLE + 48], ecx
        mov [TABLE + 52], edi
        ; P2
        ATA_CMD ata_cmd32, 22, 2, 0x20
        mov edi, 0x401f00
        mov ecx, 512
        rep insw
        mov [TABLE + 56], ecx
        mov [TABLE + 60], edi
        ; P3
        ATA_CMD ata_cmd32, 30, 1, 0x30
        mov esi, 0x400f00
        mov ecx, 128
        rep outsd
        mov [TABLE + 68], ecx
        mov [TABLE + 72], esi
        call ata_idle32
        ; P4: code at linear 400100h runs, then a sector with other code is read over it
        mov dword [0x400100], 0x333333b8 ; mov eax, 33333333h; ret
        mov dword [0x400104], 0x0000c333
        mov ebx, 0x400100
        call ebx
        mov [TABLE + 88], eax
        ATA_CMD ata_cmd32, 41, 1, 0x20
        mov edi, 0x400000
        mov ecx, 256
        rep insw
        mov ebx, 0x400100
        call ebx
        mov [TABLE + 92], eax
        mov dword [TABLE + 76], 'DONE'
.halt:  hlt
        jmp .halt

        ATA_ROUTINE ata_cmd32, ata_idle32

pf_handler:
        mov dword [PT1 + 8], 0x280003
        invlpg [0x402000]
        inc dword [TABLE + 64]
        add esp, 4                      ; the error code
        iretd

        align 8
gdt:    dq 0
        dq 0x00cf9a000000ffff           ; 08h: 32-bit code, flat
        dq 0x00cf92000000ffff           ; 10h: data, flat
gdtr:   dw gdtr - gdt - 1
        dd gdt
idtr:   dw 64 * 8 - 1
        dd IDT
        times (STAGE2_SECTORS * 512) - ($ - $$) db 0
