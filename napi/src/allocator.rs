//! The addon's global allocator on glibc: the system allocator, except that
//! blocks of 1 MiB and more are mapped and unmapped directly.
//!
//! quinn gives every endpoint a receive buffer of max UDP payload × GRO
//! segments × batch (1472 × 64 × 32 bytes, about 3 MiB), and every
//! `connect()` has an endpoint of its own. glibc raises its mmap threshold
//! past a block's size when a mapped block of that size is freed, so from
//! the second endpoint on these buffers come from the heap: zero-filled
//! there (resident at once, where fresh mapped pages stay untouched until
//! a datagram lands in them) and kept by glibc after they are freed. 500
//! client connections in turn left RSS 400 MiB above where it started; with
//! this allocator it stays where it was (test/fuzz/leaks.test.ts).
//! Mapping our large blocks ourselves keeps that behaviour for the addon
//! without changing the allocator settings of the Node process around it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

/// Blocks this large and larger are mapped: far above anything allocated
/// per packet or per stream chunk, so only per-endpoint buffers pay for a
/// system call.
const MAPPED_FROM: usize = 1024 * 1024;

/// Mapped memory is page aligned; a stricter alignment goes to the system
/// allocator.
const PAGE: usize = 4096;

pub struct LargeBlocksMapped;

fn mapped(size: usize, align: usize) -> bool {
    size >= MAPPED_FROM && align <= PAGE
}

unsafe fn map(size: usize) -> *mut u8 {
    let block = libc::mmap(
        ptr::null_mut(),
        size,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
        0,
    );
    if block == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        block.cast()
    }
}

// SAFETY: every block is released by the same path that made it, decided by
// its layout: `mapped` gives the same answer for the layout a block was
// allocated with and the one it is freed with (GlobalAlloc guarantees they
// are equal), and mmap returns page-aligned, zero-filled memory.
unsafe impl GlobalAlloc for LargeBlocksMapped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if mapped(layout.size(), layout.align()) {
            map(layout.size())
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(layout.size(), layout.align()) {
            map(layout.size())
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if mapped(layout.size(), layout.align()) {
            libc::munmap(block.cast(), layout.size());
        } else {
            System.dealloc(block, layout)
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        match (mapped(layout.size(), align), mapped(new_size, align)) {
            (false, false) => System.realloc(block, layout, new_size),
            (true, true) => {
                let moved =
                    libc::mremap(block.cast(), layout.size(), new_size, libc::MREMAP_MAYMOVE);
                if moved == libc::MAP_FAILED {
                    ptr::null_mut()
                } else {
                    moved.cast()
                }
            }
            _ => {
                let new_layout = Layout::from_size_align_unchecked(new_size, align);
                let moved = self.alloc(new_layout);
                if !moved.is_null() {
                    ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                    self.dealloc(block, layout);
                }
                moved
            }
        }
    }
}
