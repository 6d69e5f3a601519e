// trim_resident_memory(): clean read-only file pages go, written ones stay.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "reins/async/loop.hpp"
#include "reins/async/resident_trim.hpp"
#include "temp_dir.hpp"

using reins::trim_resident_memory;

namespace {

// Rss in kB of the mapping that starts at `start`, from /proc/self/smaps.
long rss_kb_of(const void* start) {
    char head[32];
    std::snprintf(head, sizeof head, "%lx-", reinterpret_cast<unsigned long>(start));
    std::ifstream f("/proc/self/smaps");
    std::string line;
    bool in = false;
    while (std::getline(f, line)) {
        if (line.rfind(head, 0) == 0) in = true;
        else if (in && line.rfind("Rss:", 0) == 0) return std::stol(line.substr(4));
    }
    return -1;
}

// A file of `pages` pages, each filled with its index.
std::string make_file(const reins::test::TempDir& dir, int pages) {
    std::string path = dir / "pages";
    int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    std::string page(4096, '\0');
    for (int i = 0; i < pages; ++i) {
        std::memset(page.data(), i, page.size());
        REQUIRE(::write(fd, page.data(), page.size()) == 4096);
    }
    ::close(fd);
    return path;
}

void* map_file(const std::string& path, int pages, int prot) {
    int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    void* p = ::mmap(nullptr, static_cast<std::size_t>(pages) * 4096, prot, MAP_PRIVATE, fd, 0);
    ::close(fd);
    REQUIRE(p != MAP_FAILED);
    return p;
}

}  // namespace

TEST_SUITE("resident_trim") {
    TEST_CASE("clean read-only file pages are dropped and come back unchanged on use") {
        reins::test::TempDir dir("trim");
        constexpr int pages = 64;
        auto path = make_file(dir, pages);
        auto* p = static_cast<volatile unsigned char*>(map_file(path, pages, PROT_READ));
        unsigned sum = 0;
        for (int i = 0; i < pages; ++i) sum += p[i * 4096];
        CHECK(sum == 63 * 64 / 2);
        CHECK(rss_kb_of(const_cast<unsigned char*>(p)) == pages * 4);

        auto report = trim_resident_memory();
        CHECK(report.mappings >= 1);
        CHECK(report.file_kb >= pages * 4);
        CHECK(rss_kb_of(const_cast<unsigned char*>(p)) == 0);
        for (int i = 0; i < pages; ++i) CHECK(p[i * 4096 + 7] == i);  // back from the page cache
        ::munmap(const_cast<unsigned char*>(p), pages * 4096);
    }

    TEST_CASE("a read-only mapping holding a written page keeps it (RELRO after relocation)") {
        reins::test::TempDir dir("trim");
        constexpr int pages = 4;
        auto path = make_file(dir, pages);
        auto* p = static_cast<unsigned char*>(map_file(path, pages, PROT_READ | PROT_WRITE));
        p[4096] = 0xAB;  // a private copy of page 1, as the dynamic loader makes when it relocates
        (void)static_cast<volatile unsigned char*>(p)[0];
        REQUIRE(::mprotect(p, pages * 4096, PROT_READ) == 0);

        trim_resident_memory();
        CHECK(p[4096] == 0xAB);  // dropped, it would read the file's 1 again
        CHECK(p[0] == 0);
        ::munmap(p, pages * 4096);
    }

    TEST_CASE("writable private file pages are never touched") {
        reins::test::TempDir dir("trim");
        auto path = make_file(dir, 2);
        auto* p = static_cast<unsigned char*>(map_file(path, 2, PROT_READ | PROT_WRITE));
        p[10] = 0xCD;
        trim_resident_memory();
        CHECK(p[10] == 0xCD);
        ::munmap(p, 2 * 4096);
    }

    TEST_CASE("ResidentTrim runs once before the loop's next wait, however often asked") {
        reins::Loop loop;
        // Something that keeps the loop alive (the trim's own handle does not).
        uv_timer_t keep{};
        uv_timer_init(loop.uv(), &keep);
        uv_timer_start(&keep, [](uv_timer_t*) {}, 3600 * 1000, 0);
        reins::ResidentTrim trim(loop);
        trim.request();
        trim.request();
        CHECK(trim.trims() == 0);
        uv_run(loop.uv(), UV_RUN_NOWAIT);
        CHECK(trim.trims() == 1);
        uv_run(loop.uv(), UV_RUN_NOWAIT);
        CHECK(trim.trims() == 1);
        trim.request();
        uv_run(loop.uv(), UV_RUN_NOWAIT);
        CHECK(trim.trims() == 2);
        uv_close(reinterpret_cast<uv_handle_t*>(&keep), nullptr);
        uv_run(loop.uv(), UV_RUN_NOWAIT);
    }
}
