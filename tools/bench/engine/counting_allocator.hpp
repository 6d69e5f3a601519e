// reins-bench-engine: the replaced global operator new (counting_allocator.cpp)
// and what it counts: live bytes and blocks of every C++ allocation, to tell
// what an idle service keeps on the heap; in sites mode, also per allocation
// site.
#pragma once

namespace engine_bench {

long long live_heap_bytes();
long long live_heap_blocks();

// Sites mode: REINS_BENCH_SITES set in the environment at exec (the driver
// sets it for the --run sites mode).
bool sites_on();

// One `SITE bytes blocks pc0 pc1 pc2 pc3` result line per allocation site with
// live blocks (pcs as offsets into this executable, 0: none). Sites mode only.
void emit_allocation_sites();

}  // namespace engine_bench
