#include <doctest/doctest.h>

#include <vector>

#include "reins/supervisor/dependency_graph.hpp"

using namespace reins::supervisor;

TEST_SUITE("dependency_graph") {
    TEST_CASE("no cycle: depths count the longest chain below each node") {
        // 0 depends on nothing, 1 on 0, 2 on 0 and 1, 3 on 2.
        DependencyLists deps{{}, {0}, {0, 1}, {2}};
        CHECK(first_cycle(deps).empty());
        CHECK(dependency_depths(deps) == std::vector<int>{0, 1, 2, 3});
    }

    TEST_CASE("components come out dependencies first") {
        DependencyLists deps{{1}, {2}, {}};
        auto comps = dependency_components(deps);
        REQUIRE(comps.size() == 3);
        CHECK(comps[0] == std::vector<int>{2});
        CHECK(comps[1] == std::vector<int>{1});
        CHECK(comps[2] == std::vector<int>{0});
    }

    TEST_CASE("the first cycle starts at its lowest node and is the shortest way back") {
        // 1 → 2 → 3 → 1 and a shortcut 1 → 3; 0 depends on the cycle.
        DependencyLists deps{{1}, {2, 3}, {3}, {1}};
        CHECK(first_cycle(deps) == std::vector<int>{1, 3});
        // A second, later cycle does not change which comes first.
        DependencyLists two{{}, {2}, {1}, {4}, {3}};
        CHECK(first_cycle(two) == std::vector<int>{1, 2});
    }

    TEST_CASE("a node that depends on itself is a cycle of one") {
        DependencyLists deps{{}, {1}};
        CHECK(first_cycle(deps) == std::vector<int>{1});
    }

    TEST_CASE("a chain of 200000 does not exhaust the stack") {
        const int n = 200000;
        DependencyLists deps(n);
        for (int i = 1; i < n; ++i) deps[static_cast<std::size_t>(i)].push_back(i - 1);
        CHECK(first_cycle(deps).empty());
        CHECK(dependency_depths(deps).back() == n - 1);
        deps[0].push_back(n - 1);  // close the ring
        CHECK(first_cycle(deps).size() == static_cast<std::size_t>(n));
    }
}
