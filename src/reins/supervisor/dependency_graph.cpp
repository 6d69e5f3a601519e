#include "reins/supervisor/dependency_graph.hpp"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <utility>

namespace reins::supervisor {

std::vector<std::vector<int>> dependency_components(const DependencyLists& deps) {
    const int n = static_cast<int>(deps.size());
    std::vector<int> index(n, -1), low(n, 0), stack;
    std::vector<bool> on(n, false);
    std::vector<std::vector<int>> out;
    int next = 0;
    for (int root = 0; root < n; ++root) {
        if (index[root] != -1) continue;
        std::vector<std::pair<int, std::size_t>> work{{root, 0}};
        while (!work.empty()) {
            auto& [v, i] = work.back();
            if (i == 0) {
                index[v] = low[v] = next++;
                stack.push_back(v);
                on[v] = true;
            }
            if (i < deps[v].size()) {
                int w = deps[v][i++];
                if (index[w] == -1) work.push_back({w, 0});
                else if (on[w]) low[v] = std::min(low[v], index[w]);
                continue;
            }
            if (low[v] == index[v]) {
                std::vector<int> comp;
                int w = -1;
                do {
                    w = stack.back();
                    stack.pop_back();
                    on[w] = false;
                    comp.push_back(w);
                } while (w != v);
                out.push_back(std::move(comp));
            }
            int done = v;
            work.pop_back();
            if (!work.empty()) low[work.back().first] = std::min(low[work.back().first], low[done]);
        }
    }
    return out;
}

std::vector<int> shortest_cycle(const DependencyLists& deps, const std::vector<int>& component, int start) {
    // Breadth first from `start`, inside the component, until an edge leads back.
    std::vector<int> prev(deps.size(), -1);
    std::vector<bool> in(deps.size(), false);
    for (int v : component) in[static_cast<std::size_t>(v)] = true;
    std::deque<int> queue{start};
    int last = -1;
    while (!queue.empty() && last == -1) {
        int v = queue.front();
        queue.pop_front();
        for (int w : deps[static_cast<std::size_t>(v)]) {
            if (w == start) {
                last = v;
                break;
            }
            if (!in[static_cast<std::size_t>(w)] || prev[static_cast<std::size_t>(w)] != -1) continue;
            prev[static_cast<std::size_t>(w)] = v;
            queue.push_back(w);
        }
    }
    std::vector<int> path;
    for (int v = last; v != start && v != -1; v = prev[static_cast<std::size_t>(v)]) path.push_back(v);
    path.push_back(start);
    std::reverse(path.begin(), path.end());
    return path;
}

namespace {

bool self_dependent(const DependencyLists& deps, int v) {
    const auto& d = deps[static_cast<std::size_t>(v)];
    return std::find(d.begin(), d.end(), v) != d.end();
}

}  // namespace

std::vector<int> first_cycle(const DependencyLists& deps) {
    const std::vector<int>* best = nullptr;
    int best_start = -1;
    auto comps = dependency_components(deps);
    for (const auto& comp : comps) {
        int start = *std::min_element(comp.begin(), comp.end());
        if (comp.size() == 1 && !self_dependent(deps, start)) continue;
        if (!best || start < best_start) {
            best = &comp;
            best_start = start;
        }
    }
    if (!best) return {};
    return shortest_cycle(deps, *best, best_start);
}

std::vector<int> dependency_depths(const DependencyLists& deps) {
    std::vector<int> depth(deps.size(), 0);
    std::vector<int> component_of(deps.size(), -1);
    auto comps = dependency_components(deps);
    // Components come out dependencies first, so each depth is final when read.
    for (std::size_t c = 0; c < comps.size(); ++c) {
        for (int v : comps[c]) component_of[static_cast<std::size_t>(v)] = static_cast<int>(c);
        int d = 0;
        for (int v : comps[c])
            for (int w : deps[static_cast<std::size_t>(v)])
                if (component_of[static_cast<std::size_t>(w)] != static_cast<int>(c))
                    d = std::max(d, depth[static_cast<std::size_t>(w)] + 1);
        for (int v : comps[c]) depth[static_cast<std::size_t>(v)] = d;
    }
    return depth;
}

}  // namespace reins::supervisor
