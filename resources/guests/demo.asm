; =============================================================================
; demo.asm -- the vmgui demo guest: the first floppy a new vmgui user boots.
;
; A small real-mode program that shows off what the emulated IBM PC can do,
; using nothing but BIOS services (int 10h, 13h, 14h, 15h, 16h, 1Ah) and, for
; the mode 13h scene, the linear VGA frame buffer at A000:0000.
;
;   boot sector  loads the rest of the program with int 13h AH=02h (CHS reads
;                from the drive the BIOS booted from, DL) to 0000:7E00 and
;                jumps there.  A one-line banner goes out on COM1 at start-up.
;   menu         80x25 colour text (mode 3), a CP437 double-line box with a
;                shadow; choose with 1-4, or the arrow keys and Enter.
;     1 Keyboard echo   every key: its glyph, scan code and ASCII code as
;                       returned by int 16h AH=00h (e.g. 'a' -> AX=1E61h).
;     2 Graphics        VGA mode 13h (320x200, 256 colours): a sunset drawn
;                       with gradient bands of the default palette, a sun,
;                       the sea, a sail boat and the whole 256-colour palette.
;     3 Clock           the RTC date and time (int 1Ah AH=04h/02h, BCD) in
;                       big digits, redrawn every second (int 15h AH=86h
;                       waits between reads), plus the BIOS tick count.
;     4 Serial          int 14h AH=00h/01h: "Hello from the vmgui demo on COM1".
;
; Build:   nasm -f bin -o demo.img demo.asm
;          (the image is padded to a full 1.44 MB floppy so it boots as A:)
;
; Written for the vmgui project.
;
; MIT License
;
; Copyright (c) the vmgui authors
;
; Permission is hereby granted, free of charge, to any person obtaining a copy
; of this software and associated documentation files (the "Software"), to
; deal in the Software without restriction, including without limitation the
; rights to use, copy, modify, merge, publish, distribute, sublicense, and/or
; sell copies of the Software, and to permit persons to whom the Software is
; furnished to do so, subject to the following conditions:
;
; The above copyright notice and this permission notice shall be included in
; all copies or substantial portions of the Software.
;
; THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
; IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
; FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
; AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
; LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
; FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
; IN THE SOFTWARE.
; =============================================================================

        bits 16
        cpu 386                         ; pusha/popa, shifts by immediates
        org 0x7C00

FLOPPY_BYTES    equ 1474560             ; 80 cylinders * 2 heads * 18 sectors
SECTORS_PER_TRK equ 18
STAGE2          equ 0x7E00              ; where the boot sector loads the rest

KEY_ESC         equ 0x1B                ; ASCII codes / scan codes
KEY_ENTER       equ 0x0D
SCAN_UP         equ 0x48
SCAN_DOWN       equ 0x50

; =============================================================================
; Boot sector (512 bytes, loaded by the BIOS at 0000:7C00, DL = boot drive)
; =============================================================================
boot:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00                  ; stack grows down below the boot sector
        sti
        cld
        jmp 0x0000:.norm_cs             ; some BIOSes enter at 07C0:0000
.norm_cs:
        mov [boot_drive], dl

        ; Load sectors 1 .. STAGE2_SECTORS (LBA) one at a time to 0000:7E00.
        ; Reading single sectors never crosses a track or a 64 KB DMA boundary.
        mov bx, STAGE2                  ; ES:BX = destination
        mov si, 1                       ; SI = LBA of the next sector
.next_sector:
        cmp si, STAGE2_SECTORS
        ja .loaded
        mov di, 5                       ; tries per sector
.try:
        ; LBA -> CHS for a 1.44 MB floppy: 18 sectors per track, 2 heads
        mov ax, si
        mov cl, SECTORS_PER_TRK
        div cl                          ; AL = track (LBA / 18), AH = LBA % 18
        mov cl, ah
        inc cl                          ; CL = sector, 1-based
        mov dh, al
        and dh, 1                       ; DH = head = track & 1
        mov ch, al
        shr ch, 1                       ; CH = cylinder = track / 2
        mov dl, [boot_drive]
        mov ax, 0x0201                  ; AH=02h read, AL=1 sector
        int 0x13
        jnc .read_ok
        xor ah, ah                      ; AH=00h: reset the drive, then retry
        int 0x13
        dec di
        jnz .try
        mov si, msg_disk_error
        call boot_print
.halt:
        hlt
        jmp .halt
.read_ok:
        add bx, 512
        inc si
        jmp .next_sector
.loaded:
        jmp main

; boot_print: teletype the zero-terminated string at DS:SI (int 10h AH=0Eh)
boot_print:
        lodsb
        test al, al
        jz .done
        mov ah, 0x0E
        mov bx, 0x0007
        int 0x10
        jmp boot_print
.done:
        ret

msg_disk_error  db "vmgui demo: disk read error", 0
boot_drive      db 0

        times 510-($-$$) db 0
        dw 0xAA55                       ; boot signature

; =============================================================================
; Stage 2 (loaded at 0000:7E00)
; =============================================================================
main:
        call serial_init
        mov si, msg_banner              ; "vmgui demo booted" on COM1
        call serial_puts
        mov byte [menu_sel], 0

menu:
        call text_mode
        call draw_menu
.loop:
        call draw_menu_items            ; redraw with the selection highlighted
        xor ah, ah                      ; int 16h AH=00h: wait for a key
        int 0x16
        cmp al, '1'
        jb .not_digit
        cmp al, '4'
        ja .not_digit
        sub al, '1'                     ; 1-4: select and run at once
        mov [menu_sel], al
        jmp .run
.not_digit:
        cmp al, KEY_ENTER
        je .run
        cmp ah, SCAN_UP
        je .up
        cmp ah, SCAN_DOWN
        je .down
        jmp .loop
.up:
        add byte [menu_sel], 3          ; (sel - 1) mod 4
        and byte [menu_sel], 3
        jmp .loop
.down:
        inc byte [menu_sel]             ; (sel + 1) mod 4
        and byte [menu_sel], 3
        jmp .loop
.run:
        movzx bx, byte [menu_sel]
        shl bx, 1
        call [actions + bx]
        jmp menu

actions dw keyboard_echo, graphics, clock, serial_hello

; -----------------------------------------------------------------------------
; The menu
; -----------------------------------------------------------------------------
BOX_TOP         equ 4
BOX_LEFT        equ 16
BOX_BOTTOM      equ 18
BOX_RIGHT       equ 63
ITEM_ROW        equ 8                   ; first menu item; items are 2 rows apart
ITEM_COL        equ BOX_LEFT + 3
ITEM_WIDTH      equ BOX_RIGHT - BOX_LEFT - 5

draw_menu:
        ; desktop: light-shade pattern, cyan on blue
        xor dx, dx
        call goto
        mov byte [attr], 0x13
        mov al, 0xB0                    ; ░
        mov cx, 80*25
        call putc_n
        ; title bar and status bar
        mov dx, 0x0000
        mov bl, 0x70
        mov si, str_titlebar
        call print_bar
        mov dx, 0x1800
        mov bl, 0x70
        mov si, str_statusbar
        call print_bar
        ; the shadow: black cells two columns right and one row below the box
        mov byte [attr], 0x08
        mov dh, BOX_TOP + 1
.shadow:
        mov dl, BOX_RIGHT + 1
        call goto
        mov al, ' '
        mov cx, 2
        call putc_n
        inc dh
        cmp dh, BOX_BOTTOM
        jbe .shadow
        mov dx, ((BOX_BOTTOM + 1) << 8) | (BOX_LEFT + 2)
        call goto
        mov cx, BOX_RIGHT - BOX_LEFT + 1
        call putc_n
        ; the box itself: yellow double lines, white on blue inside
        mov dx, (BOX_TOP << 8) | BOX_LEFT
        mov cx, (BOX_BOTTOM << 8) | BOX_RIGHT
        mov bl, 0x1E
        mov si, box_double
        call draw_box
        ; its title, centred in the top border
        mov dx, (BOX_TOP << 8) | (BOX_LEFT + (BOX_RIGHT - BOX_LEFT + 1 - 14) / 2)
        mov bl, 0x1F
        mov si, str_title               ; "  vmgui demo  " (14 characters)
        call print_at
        mov dx, ((BOX_TOP + 2) << 8) | (BOX_LEFT + 3)
        mov bl, 0x1B
        mov si, str_question
        call print_at
        ; a single-line separator and the hint below the items
        mov dx, ((BOX_BOTTOM - 2) << 8) | BOX_LEFT
        call goto
        mov byte [attr], 0x1E
        mov al, 0xC7                    ; ╟
        call putc
        mov al, 0xC4                    ; ─
        mov cx, BOX_RIGHT - BOX_LEFT - 1
        call putc_n
        mov al, 0xB6                    ; ╢
        call putc
        mov dx, ((BOX_BOTTOM - 1) << 8) | (BOX_LEFT + 3)
        mov bl, 0x17
        mov si, str_hint
        call print_at
        ret

; draw_menu_items: the four options, the selected one highlighted
draw_menu_items:
        xor cx, cx                      ; CL = item number 0..3
.item:
        mov dh, cl
        shl dh, 1
        add dh, ITEM_ROW                ; DH = row of this item
        mov dl, ITEM_COL - 1
        call goto
        mov bx, 0x1F1E                  ; BH = text, BL = digit (normal)
        mov ah, ' '                     ; AH = marker
        cmp cl, [menu_sel]
        jne .normal
        mov bx, 0x3F30                  ; selected: black/white on cyan
        mov ah, 0x10                    ; ►
.normal:
        push cx
        ; blank the whole row in the text colour, then write over it
        mov [attr], bh
        mov al, ' '
        mov cx, ITEM_WIDTH + 2
        call putc_n
        call goto                       ; back to the start of the row
        mov al, ah                      ; marker
        call putc
        mov [attr], bl
        pop cx
        push cx
        mov al, cl
        add al, '1'                     ; the key digit
        call putc
        mov [attr], bh
        mov al, ' '
        call putc
        call putc
        movzx si, cl
        shl si, 1
        mov si, [item_texts + si]
        call puts
        pop cx
        inc cl
        cmp cl, 4
        jb .item
        ret

; -----------------------------------------------------------------------------
; 1: Keyboard echo
; -----------------------------------------------------------------------------
ECHO_FIRST      equ 5                   ; rows ECHO_FIRST..ECHO_LAST scroll
ECHO_LAST       equ 23

keyboard_echo:
        mov bh, 0x07
        call clear_screen
        xor dx, dx
        mov bl, 0x2F
        mov si, str_echo_bar
        call print_bar
        mov dx, 0x0202
        mov bl, 0x0E
        mov si, str_echo_help
        call print_at
        mov dx, 0x0402
        mov bl, 0x0B
        mov si, str_echo_heads
        call print_at
        mov byte [echo_row], ECHO_FIRST
.key:
        xor ah, ah                      ; int 16h AH=00h: AH = scan, AL = ASCII
        int 0x16
        cmp al, KEY_ESC
        je .done
        push ax
        ; the list is full: scroll it up one line (int 10h AH=06h)
        cmp byte [echo_row], ECHO_LAST
        jbe .room
        mov ax, 0x0601
        mov bh, 0x07
        mov cx, (ECHO_FIRST << 8) | 0
        mov dx, (ECHO_LAST << 8) | 79
        int 0x10
        mov byte [echo_row], ECHO_LAST
.room:
        pop ax
        mov dh, [echo_row]
        mov dl, 4
        call goto
        mov byte [attr], 0x0F
        push ax
        ; the character's glyph between quotes (nothing for extended keys)
        push ax
        mov al, "'"
        call putc
        pop ax
        test al, al
        jz .no_glyph
        cmp al, 0xE0
        je .no_glyph
        call putc                       ; AH=09h shows every code as a glyph
        jmp .glyph_done
.no_glyph:
        mov al, ' '
        call putc
.glyph_done:
        mov al, "'"
        call putc
        pop ax
        push ax
        mov dl, 13
        call goto
        mov byte [attr], 0x0A
        mov al, ah
        call put_hex8                   ; scan code
        mov al, 'h'
        call putc
        pop ax
        push ax
        mov dl, 25
        call goto
        mov byte [attr], 0x0D
        call put_hex8                   ; ASCII code
        mov al, 'h'
        call putc
        pop ax
        mov dl, 37
        call goto
        mov byte [attr], 0x0E
        mov si, str_ax_is
        call puts
        call put_hex16                  ; the whole of AX: scan and ASCII
        mov al, 'h'
        call putc
        inc byte [echo_row]
        jmp .key
.done:
        ret

; -----------------------------------------------------------------------------
; 2: Graphics -- VGA mode 13h, 320x200, one byte per pixel at A000:0000
; -----------------------------------------------------------------------------
SKY_TOP         equ 16
SKY_BAND        equ 8                   ; rows per sky band
HORIZON         equ SKY_TOP + 12 * SKY_BAND  ; = 112
SEA_BAND        equ 6
STRIP_TOP       equ 166                 ; the 256-colour palette strip
STRIP_HEIGHT    equ 20

graphics:
        mov ax, 0x0013                  ; int 10h AH=00h: mode 13h
        int 0x10
        push es
        mov ax, 0xA000
        mov es, ax

        ; sky: twelve bands through the default palette's colour wheel,
        ; blue (32) -> magenta (36) -> red (40) -> orange (43)
        mov word [rx], 0
        mov word [rw], 320
        mov word [rh], SKY_BAND
        mov word [ry], SKY_TOP
        mov byte [rc], 32
.sky:
        call gfx_rect
        add word [ry], SKY_BAND
        inc byte [rc]
        cmp byte [rc], 32 + 12
        jb .sky

        ; the sun: a yellow disc with a white core, half set below the horizon
        mov word [cx0], 160
        mov word [cy0], HORIZON
        mov word [radius], 40
        mov byte [rc], 43               ; orange rim
        call gfx_disc
        mov word [radius], 36
        mov byte [rc], 44               ; yellow
        call gfx_disc
        mov word [radius], 26
        mov byte [rc], 14               ; light yellow
        call gfx_disc

        ; the sea: bands from light to dark blue over the lower half of the sun
        mov word [rx], 0
        mov word [rw], 320
        mov word [ry], HORIZON
        mov word [rh], SEA_BAND
        mov si, sea_colours
.sea:
        lodsb
        mov [rc], al
        call gfx_rect
        add word [ry], SEA_BAND
        cmp si, sea_colours_end
        jb .sea

        ; the sun's reflection: ever shorter yellow streaks down the sea
        mov word [ry], HORIZON + 4
        mov word [rh], 2
        mov word [rw], 70
        mov byte [rc], 44
.streak:
        mov ax, 160
        mov bx, [rw]
        shr bx, 1
        sub ax, bx
        mov [rx], ax                    ; centred on x = 160
        call gfx_rect
        add word [ry], 6
        sub word [rw], 10
        cmp word [rw], 10
        jge .streak

        ; a sail boat: brown hull, a mast and a white triangular sail
        mov word [rx], 226
        mov word [ry], 126
        mov word [rw], 50
        mov word [rh], 6
        mov byte [rc], 6                ; brown
        call gfx_rect
        mov word [rx], 232
        mov word [ry], 132
        mov word [rw], 38
        mov word [rh], 3
        call gfx_rect
        mov word [rx], 249
        mov word [ry], 84
        mov word [rw], 2
        mov word [rh], 42
        mov byte [rc], 8                ; dark grey mast
        call gfx_rect
        mov word [ry], 86               ; the sail widens one pixel every 2 rows
        mov word [rw], 1
        mov word [rh], 1
        mov byte [rc], 15
.sail:
        mov word [rx], 252
        call gfx_rect
        mov ax, [ry]
        inc ax
        mov [ry], ax
        test ax, 1
        jnz .sail_next
        inc word [rw]
.sail_next:
        cmp ax, 124
        jb .sail

        ; two birds: little "v" shapes of dark pixels
        mov bx, bird1
        call gfx_bird
        mov bx, bird2
        call gfx_bird

        ; the whole 256-colour default palette, one column per colour, framed
        mov word [rx], 31
        mov word [ry], STRIP_TOP - 1
        mov word [rw], 258
        mov word [rh], STRIP_HEIGHT + 2
        mov byte [rc], 15
        call gfx_rect
        mov word [rx], 32
        mov word [ry], STRIP_TOP
        mov word [rw], 1
        mov word [rh], STRIP_HEIGHT
        mov byte [rc], 0
.strip:
        call gfx_rect
        inc word [rx]
        inc byte [rc]
        jnz .strip                      ; until the colour wraps back to 0

        pop es
        ; captions: int 10h AH=09h draws characters in graphics modes too,
        ; in colour BL (8x8 font: 40 columns, 25 rows)
        mov dx, 0x0001
        mov bl, 15
        mov si, str_gfx_title
        call print_at
        mov dx, 0x0001 + (24 << 8)
        mov bl, 7
        mov si, str_gfx_key
        call print_at

        xor ah, ah                      ; wait for any key
        int 0x16
        ret

; gfx_rect: fill [rw] x [rh] pixels at ([rx], [ry]) with colour [rc]; ES = A000
gfx_rect:
        pusha
        mov ax, [ry]
        mov bx, 320
        mul bx
        add ax, [rx]
        mov di, ax                      ; DI = y * 320 + x
        mov dx, [rh]
        test dx, dx
        jz .done
        mov al, [rc]
.row:
        push di
        mov cx, [rw]
        rep stosb
        pop di
        add di, 320
        dec dx
        jnz .row
.done:
        popa
        ret

; gfx_disc: a filled circle of radius [radius] around ([cx0], [cy0]) in [rc],
; drawn as one horizontal span per row: half width = isqrt(r*r - dy*dy)
gfx_disc:
        pusha
        mov word [rh], 1
        mov si, [radius]
        neg si                          ; SI = dy, from -r to +r
.row:
        mov ax, [radius]
        imul ax, ax
        mov bx, si
        imul bx, bx
        sub ax, bx                      ; AX = r*r - dy*dy
        mov cx, [radius]                ; CX = half width, shrink until it fits
.shrink:
        mov bx, cx
        imul bx, bx
        cmp bx, ax
        jbe .fits
        dec cx
        jmp .shrink
.fits:
        mov ax, [cx0]
        sub ax, cx
        mov [rx], ax
        shl cx, 1
        inc cx
        mov [rw], cx
        mov ax, [cy0]
        add ax, si
        mov [ry], ax
        call gfx_rect
        inc si
        cmp si, [radius]
        jle .row
        popa
        ret

; gfx_bird: a 7-pixel "v" whose left end is at the (x, y) word pair at [BX]
gfx_bird:
        pusha
        mov ax, [bx + 2]
        mov bx, [bx]
        imul di, ax, 320
        add di, bx                      ; DI = left end
        mov al, 0                       ; black
        mov cx, 3
.down:                                  ; three pixels down to the right
        mov [es:di], al
        add di, 321
        loop .down
        mov [es:di], al                 ; the tip
        mov cx, 3
.up:                                    ; three pixels up to the right
        sub di, 319
        mov [es:di], al
        loop .up
        popa
        ret

; -----------------------------------------------------------------------------
; 3: Clock -- the RTC via int 1Ah, redrawn whenever the seconds change
; -----------------------------------------------------------------------------
BIG_ROW         equ 7                   ; top row of the big digits
BIG_COL         equ 1                   ; 6 digits * 12 + 2 colons * 4 - 2 = 78

clock:
        mov bh, 0x07
        call clear_screen
        xor dx, dx
        mov bl, 0x5F
        mov si, str_clock_bar
        call print_bar
        mov dx, 0x0202
        mov bl, 0x0E
        mov si, str_clock_help
        call print_at
        mov dx, 0x0302
        mov bl, 0x0E
        mov si, str_clock_help2
        call print_at
        mov byte [last_sec], 0xFF       ; force the first redraw
.tick:
        mov ah, 0x02                    ; int 1Ah AH=02h: CH h, CL min, DH s (BCD)
        int 0x1A
        jc .wait                        ; RTC busy updating: try again later
        cmp dh, [last_sec]
        je .wait
        mov [last_sec], dh
        mov [time_h], ch
        mov [time_m], cl
        mov [time_s], dh
        call draw_clock
.wait:
        ; about a fifth of a second: int 15h AH=86h, CX:DX = 200000 us
        mov ah, 0x86
        mov cx, 200000 >> 16
        mov dx, 200000 & 0xFFFF
        int 0x15
        jnc .poll_key
        sti                             ; no AH=86h: sleep until the next tick
        hlt
.poll_key:
        mov ah, 0x01                    ; int 16h AH=01h: key waiting? (ZF=0)
        int 0x16
        jz .tick
        xor ah, ah                      ; take it out of the buffer
        int 0x16
        cmp al, KEY_ESC
        jne .tick
        ret

; draw_clock: big HH:MM:SS from time_h/m/s, then a text line with the date
; (int 1Ah AH=04h: CH century, CL year, DH month, DL day, all BCD) and the
; BIOS tick count (int 1Ah AH=00h: CX:DX ticks since midnight)
draw_clock:
        mov dx, (BIG_ROW << 8) | BIG_COL
        mov al, [time_h]
        mov bl, 0x0B                    ; hours light cyan
        call big_bcd
        mov al, 10
        mov bl, 0x07
        call big_glyph                  ; ':'
        mov al, [time_m]
        mov bl, 0x0E                    ; minutes yellow
        call big_bcd
        mov al, 10
        mov bl, 0x07
        call big_glyph
        mov al, [time_s]
        mov bl, 0x0A                    ; seconds light green
        call big_bcd

        mov ah, 0x04
        int 0x1A
        jc .no_date
        mov [date_c], ch
        mov [date_y], cl
        mov [date_m], dh
        mov [date_d], dl
.no_date:
        mov dx, ((BIG_ROW + 8) << 8) | 22
        call goto
        mov byte [attr], 0x0F
        mov si, str_date
        call puts
        mov al, [date_c]                ; a BCD byte prints as two hex digits
        call put_hex8
        mov al, [date_y]
        call put_hex8
        mov al, '-'
        call putc
        mov al, [date_m]
        call put_hex8
        mov al, '-'
        call putc
        mov al, [date_d]
        call put_hex8
        mov si, str_time
        call puts
        mov al, [time_h]
        call put_hex8
        mov al, ':'
        call putc
        mov al, [time_m]
        call put_hex8
        mov al, ':'
        call putc
        mov al, [time_s]
        call put_hex8

        xor ah, ah                      ; the BIOS tick count
        int 0x1A
        push dx
        push cx
        mov dx, ((BIG_ROW + 10) << 8) | 22
        call goto
        mov byte [attr], 0x08
        mov si, str_ticks
        call puts
        pop ax
        call put_hex16
        pop ax
        call put_hex16
        mov al, 'h'
        call putc
        ret

; big_bcd: AL = a BCD byte: both of its digits in big glyphs at DH:DL, colour BL
big_bcd:
        push ax
        shr al, 4
        call big_glyph
        pop ax
        and al, 0x0F
        ; fall through: the low digit
; big_glyph: glyph AL (0-9, 10 = ':') at row DH, column DL in colour BL;
; each font bit is two character cells wide; advances DL past the glyph
big_glyph:
        pusha
        mov [attr], bl
        movzx si, al
        mov bx, si
        shl si, 2
        add si, bx                      ; SI = AL * 5: 5 rows of 5 bits
        add si, big_font
        mov bl, 5                       ; BL = bits per row (5; the colon is 1)
        mov bh, 0x10                    ; BH = the leftmost bit to draw
        cmp al, 10
        jne .rows
        mov bl, 1
        mov bh, 0x04                    ; the colon is only its middle column
.rows:
        mov ah, 5
.row:
        push dx
        call goto
        lodsb
        mov cl, bh                      ; CL = current bit mask
        mov ch, bl
.bit:
        push ax
        push cx
        test al, cl
        mov al, 0xDB                    ; █
        jnz .put
        mov al, ' '
.put:
        mov cx, 2
        call putc_n
        pop cx
        pop ax
        shr cl, 1
        dec ch
        jnz .bit
        pop dx
        inc dh
        dec ah
        jnz .row
        popa
        ; advance: 5 bits * 2 + 2 blank columns, or 1 bit * 2 + 2 for ':'
        add dl, 12
        cmp al, 10
        jne .ret
        sub dl, 8
.ret:
        ret

; -----------------------------------------------------------------------------
; 4: Serial -- say hello on COM1 through int 14h
; -----------------------------------------------------------------------------
serial_hello:
        mov bh, 0x07
        call clear_screen
        xor dx, dx
        mov bl, 0x3F
        mov si, str_serial_bar
        call print_bar
        mov dx, 0x0202
        mov bl, 0x0E
        mov si, str_serial_init
        call print_at
        call serial_init                ; AH = line status, AL = modem status
        push ax
        mov dx, 0x0302
        mov bl, 0x07
        mov si, str_serial_status
        call print_at
        pop ax
        push ax
        mov al, ah
        call put_hex8
        mov si, str_serial_modem
        call puts
        pop ax
        call put_hex8
        mov al, 'h'
        call putc

        mov dx, 0x0502
        mov bl, 0x0E
        mov si, str_serial_sending
        call print_at
        mov dx, 0x0604
        mov bl, 0x0F
        mov si, msg_hello_quoted
        call print_at

        mov si, msg_hello
        call serial_puts                ; CF = a character timed out
        jc .failed
        mov dx, 0x0802
        mov bl, 0x0A
        mov si, str_serial_sent
        call print_at
        jmp .wait
.failed:
        mov dx, 0x0802
        mov bl, 0x0C
        mov si, str_serial_failed
        call print_at
.wait:
        mov dx, 0x0A02
        mov bl, 0x07
        mov si, str_serial_log
        call print_at
        mov dx, 0x0C02
        mov bl, 0x07
        mov si, str_any_key
        call print_at
        xor ah, ah
        int 0x16
        ret

; serial_init: int 14h AH=00h, COM1: 9600 baud, no parity, 1 stop, 8 bits
serial_init:
        mov ax, 0x00E3                  ; 111 00 0 11 = 9600, N, 1, 8
        xor dx, dx                      ; DX = 0: COM1
        int 0x14
        ret

; serial_puts: send the zero-terminated string at DS:SI to COM1 with int 14h
; AH=01h; CF set if any character timed out (AH bit 7)
serial_puts:
        pusha
        xor bl, bl                      ; BL = OR of the returned statuses
.next:
        lodsb
        test al, al
        jz .done
        mov ah, 0x01
        xor dx, dx
        int 0x14
        or bl, ah
        jmp .next
.done:
        test bl, 0x80
        popa
        jz .ok                          ; (popa leaves the flags alone)
        stc
        ret
.ok:
        clc
        ret

; -----------------------------------------------------------------------------
; Text output through int 10h.  The cursor position lives in cur_col/cur_row
; (the BIOS cursor is moved before each write and kept hidden); the colour
; is in [attr].  AH=09h writes CX copies of a character with an attribute.
; -----------------------------------------------------------------------------

; text_mode: 80x25 colour text (mode 3), cursor hidden
text_mode:
        mov ax, 0x0003
        int 0x10
        mov ah, 0x01                    ; cursor shape: bit 5 of CH hides it
        mov cx, 0x2000
        int 0x10
        ret

; clear_screen: the whole screen blank in attribute BH (int 10h AH=06h, AL=0)
clear_screen:
        pusha
        mov ax, 0x0600
        xor cx, cx
        mov dx, 0x184F
        int 0x10
        popa
        ret

; goto: DH = row, DL = column
goto:
        mov [cur_col], dx               ; cur_col, then cur_row (little endian)
        ret

; putc_n: CX copies of character AL at the cursor in [attr]; cursor += CX
putc_n:
        pusha
        push cx
        mov ah, 0x02                    ; int 10h AH=02h: set the cursor
        xor bh, bh
        mov dx, [cur_col]
        int 0x10
        mov ah, 0x09                    ; int 10h AH=09h: char + attribute
        mov bl, [attr]
        int 0x10
        pop cx
        add [cur_col], cl
        popa
        ret

; putc: character AL at the cursor in [attr]
putc:
        push cx
        mov cx, 1
        call putc_n
        pop cx
        ret

; puts: the zero-terminated string at DS:SI
puts:
        push ax
.next:
        lodsb
        test al, al
        jz .done
        call putc
        jmp .next
.done:
        pop ax
        ret

; print_at: string SI at row DH, column DL in attribute BL
print_at:
        call goto
        mov [attr], bl
        jmp puts

; print_bar: a full-width bar at row DH in attribute BL with string SI on it
print_bar:
        mov dl, 0
        call goto
        mov [attr], bl
        push ax
        push cx
        mov al, ' '
        mov cx, 80
        call putc_n
        pop cx
        pop ax
        mov dl, 1
        jmp print_at

; put_hex16: AX as four hex digits
put_hex16:
        push ax
        mov al, ah
        call put_hex8
        pop ax
        ; fall through
; put_hex8: AL as two hex digits (a BCD byte prints as its two decimal digits)
put_hex8:
        push ax
        shr al, 4
        call .digit
        pop ax
        push ax
        and al, 0x0F
        call .digit
        pop ax
        ret
.digit:
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '9' - 1
.out:
        jmp putc

; draw_box: a frame from row DH, column DL to row CH, column CL in attribute
; BL with the characters at SI (corner, line, corner, side, corner, corner),
; filled with blanks in the same attribute
draw_box:
        pusha
        mov [attr], bl
        mov [box_corner], cx            ; right column, then bottom row
        movzx cx, cl
        sub cl, dl
        dec cx
        mov [box_inner], cx             ; columns between the two sides
        call goto                       ; top edge: ╔═══╗
        mov al, [si]
        call putc
        mov al, [si + 1]
        mov cx, [box_inner]
        call putc_n
        mov al, [si + 2]
        call putc
.side:                                  ; one row of ║   ║ per inner row
        inc dh
        cmp dh, [box_corner + 1]
        jae .bottom
        call goto
        mov al, [si + 3]
        call putc
        mov al, ' '
        mov cx, [box_inner]
        call putc_n
        mov al, [si + 3]
        call putc
        jmp .side
.bottom:                                ; bottom edge: ╚═══╝
        call goto
        mov al, [si + 4]
        call putc
        mov al, [si + 1]
        mov cx, [box_inner]
        call putc_n
        mov al, [si + 5]
        call putc
        popa
        ret

; -----------------------------------------------------------------------------
; Data
; -----------------------------------------------------------------------------
msg_banner      db "vmgui demo booted", 13, 10, 0
msg_hello       db "Hello from the vmgui demo on COM1", 13, 10, 0
msg_hello_quoted db '"Hello from the vmgui demo on COM1" + CR LF', 0

str_titlebar    db "vmgui ", 0xFA, " an IBM PC emulator and VM manager written in Python", 0
str_statusbar   db "1-4 run   ", 0x18, 0x19, " move   Enter run   ", 0xB3
                db "   a banner went to COM1 at boot", 0
str_title       db "  vmgui demo  ", 0
str_question    db "What would you like to see?", 0
str_hint        db "Choose 1-4, or arrows + Enter", 0
item_texts      dw item1, item2, item3, item4
item1           db "Keyboard echo  ", 0xC4, " key and scan codes", 0
item2           db "Graphics       ", 0xC4, " VGA mode 13h scene", 0
item3           db "Clock          ", 0xC4, " the real-time clock", 0
item4           db "Serial         ", 0xC4, " say hello on COM1", 0

box_double      db 0xC9, 0xCD, 0xBB, 0xBA, 0xC8, 0xBC  ; ╔ ═ ╗ ║ ╚ ╝

str_echo_bar    db "Keyboard echo ", 0xC4, " int 16h AH=00h", 0
str_echo_help   db "Press any key to see its code. Esc returns to the menu.", 0
str_echo_heads  db "char     scan code   ASCII code  int 16h result", 0
str_ax_is       db "AX = ", 0

str_gfx_title   db "VGA mode 13h: 320x200, 256 colours", 0
str_gfx_key     db "Press any key for the menu", 0

str_clock_bar   db "Real-time clock ", 0xC4, " int 1Ah", 0
str_clock_help  db "Date from int 1Ah AH=04h, time from AH=02h (both BCD),", 0
str_clock_help2 db "redrawn every second. Esc returns to the menu.", 0
str_date        db "Date: ", 0
str_time        db "   Time: ", 0
str_ticks       db "BIOS ticks since midnight: ", 0

str_serial_bar  db "Serial port COM1 ", 0xC4, " int 14h", 0
str_serial_init db "int 14h AH=00h: COM1 set to 9600 baud, 8 data bits, no parity, 1 stop bit", 0
str_serial_status db "line status ", 0
str_serial_modem db "h, modem status ", 0
str_serial_sending db "int 14h AH=01h, one character at a time:", 0
str_serial_sent db "Message sent.", 0
str_serial_failed db "COM1 timed out: the message was not sent.", 0
str_serial_log  db "vmgui writes COM1 to the file given with: vmgui run --serial FILE", 0
str_any_key     db "Press any key to return to the menu.", 0

sea_colours     db 53, 54, 55, 32, 1, 104, 105, 176
sea_colours_end:

bird1           dw 70, 40
bird2           dw 86, 50

; big digits for the clock: 5 rows of 5 bits (bit 4 = leftmost) per glyph
big_font:
        db 0x1F, 0x11, 0x11, 0x11, 0x1F ; 0
        db 0x04, 0x0C, 0x04, 0x04, 0x0E ; 1
        db 0x1F, 0x01, 0x1F, 0x10, 0x1F ; 2
        db 0x1F, 0x01, 0x0F, 0x01, 0x1F ; 3
        db 0x11, 0x11, 0x1F, 0x01, 0x01 ; 4
        db 0x1F, 0x10, 0x1F, 0x01, 0x1F ; 5
        db 0x1F, 0x10, 0x1F, 0x11, 0x1F ; 6
        db 0x1F, 0x01, 0x02, 0x04, 0x04 ; 7
        db 0x1F, 0x11, 0x1F, 0x11, 0x1F ; 8
        db 0x1F, 0x11, 0x1F, 0x01, 0x1F ; 9
        db 0x00, 0x04, 0x00, 0x04, 0x00 ; :

; variables (loaded with the program, so these are their start values)
menu_sel        db 0
attr            db 0x07
cur_col         db 0                    ; cur_col and cur_row form one word
cur_row         db 0
box_corner      dw 0                    ; draw_box: right column, bottom row
box_inner       dw 0
echo_row        db 0
last_sec        db 0
time_h          db 0
time_m          db 0
time_s          db 0
date_c          db 0
date_y          db 0
date_m          db 0
date_d          db 0
rx              dw 0                    ; gfx_rect: x, y, width, height, colour
ry              dw 0
rw              dw 0
rh              dw 0
rc              db 0
cx0             dw 0                    ; gfx_disc: centre and radius
cy0             dw 0
radius          dw 0

stage2_end:

STAGE2_SECTORS  equ (stage2_end - main + 511) / 512
%if STAGE2_SECTORS > 64
%error "stage 2 no longer fits below 64 KB in segment 0"
%endif

        times FLOPPY_BYTES-($-$$) db 0  ; a full 1.44 MB floppy
