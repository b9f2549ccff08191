; CPU identity and time-stamp counter: prints CPUID leaves 0 and 1 and two RDTSC
; readings taken 100,000 loop iterations apart (each iteration is one translated block)
; on the screen and COM1:
;   C0 <eax> <ebx> <ecx> <edx>
;   C1 <eax> <ebx> <ecx> <edx>
;   T1 <edx><eax>
;   T2 <edx><eax>
;   W <n>            (RDTSC reads a busy-wait took until the counter passed T2 + 5,000,000)
;   DONE
%include "common.inc"
        BOOT_START
        xor eax, eax
        mov si, c0
        call leaf
        mov eax, 1
        mov si, c1
        call leaf
        rdtsc
        mov [t1], eax
        mov [t1 + 4], edx
        mov ecx, 100000
.wait:  a32 loop .wait
        rdtsc
        mov [t2], eax
        mov [t2 + 4], edx
        add eax, 5000000        ; 10 ms at 500 MHz
        adc edx, 0
        mov ebx, eax
        mov ebp, edx
        xor esi, esi
.spin:  inc esi
        rdtsc
        cmp edx, ebp
        jb .spin
        ja .waited
        cmp eax, ebx
        jb .spin
.waited:
        mov [spins], esi
        mov si, t1s
        mov di, t1
        call tsc
        mov si, t2s
        mov di, t2
        call tsc
        mov si, ws
        call print_si
        mov eax, [spins]
        call hex32
        call crlf
        mov si, done
        call print_si
        cli
        hlt
; leaf: CPUID with EAX as given, printed after the label at SI
leaf:   cpuid
        mov [regs], eax
        mov [regs + 4], ebx
        mov [regs + 8], ecx
        mov [regs + 12], edx
        call print_si
        mov di, regs
        mov bp, 4
.next:  mov al, ' '
        call putc
        mov eax, [di]
        call hex32
        add di, 4
        dec bp
        jnz .next
        jmp crlf
; tsc: the label at SI, then the 64-bit value at DI
tsc:    call print_si
        mov eax, [di + 4]
        call hex32
        mov eax, [di]
        call hex32
crlf:   mov si, eol
        jmp print_si
hex32:  mov cx, 4
.byte:  rol eax, 8
        push eax
        push cx
        call hex8
        pop cx
        pop eax
        loop .byte
        ret
        HEX_HELPERS
        PRINT_HELPERS
c0:     db "C0", 0
c1:     db "C1", 0
t1s:    db "T1 ", 0
t2s:    db "T2 ", 0
ws:     db "W ", 0
done:   db "DONE"
eol:    db 13, 10, 0
regs    equ 0x600
t1      equ 0x610
t2      equ 0x618
spins   equ 0x620
        BOOT_END
