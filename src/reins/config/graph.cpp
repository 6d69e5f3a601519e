// depends_on across services: unknown names and cycles (docs/config.md), reported
// at the entry that names them.
#include <algorithm>
#include <deque>
#include <map>

#include "reins/config/graph.hpp"
#include "reins/config/text.hpp"

namespace reins::config::detail {
namespace {

/// Tarjan's strongly connected components (iterative: a long chain of
/// dependencies must not exhaust the stack).
std::vector<std::vector<int>> components(const std::vector<std::vector<int>>& adj) {
    const int n = static_cast<int>(adj.size());
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
            if (i < adj[v].size()) {
                int w = adj[v][i++];
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

}  // namespace

void check_graph(Checker& c, const std::vector<ServiceRead>& services) {
    std::map<std::string, int> by_name;
    std::vector<std::string_view> names;
    for (std::size_t i = 0; i < services.size(); ++i) {
        by_name.emplace(services[i].spec.name, static_cast<int>(i));
        names.push_back(services[i].spec.name);
    }
    // adj[i]: the services i depends on, with the entry that says so.
    std::vector<std::vector<int>> adj(services.size());
    std::vector<std::map<int, const DepRef*>> edge(services.size());
    for (std::size_t i = 0; i < services.size(); ++i) {
        for (const auto& d : services[i].deps) {
            auto it = by_name.find(d.name);
            if (it == by_name.end()) {
                std::string hint;
                if (auto close = closest(d.name, names); !close.empty()) hint = "did you mean '" + close + "'?";
                else {
                    hint = "services: ";
                    for (std::size_t k = 0; k < names.size() && k < 20; ++k) hint += (k ? ", " : "") + std::string(names[k]);
                }
                c.error(d.pos, d.path, d.path + ": depends on " + quote(d.name) + ", which is not a service", hint);
                continue;
            }
            adj[i].push_back(it->second);
            edge[i].emplace(it->second, &d);
        }
    }
    for (auto& comp : components(adj)) {
        int start = *std::min_element(comp.begin(), comp.end());  // first in the file
        bool self = edge[static_cast<std::size_t>(start)].count(start) != 0;
        if (comp.size() == 1 && !self) continue;
        // The shortest way back to `start` inside the component (BFS).
        std::vector<int> prev(services.size(), -1);
        std::vector<bool> in(services.size(), false);
        for (int v : comp) in[static_cast<std::size_t>(v)] = true;
        std::deque<int> queue{start};
        int last = -1;
        while (!queue.empty() && last == -1) {
            int v = queue.front();
            queue.pop_front();
            for (int w : adj[static_cast<std::size_t>(v)]) {
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
        std::string cycle;
        for (int v : path) cycle += services[static_cast<std::size_t>(v)].spec.name + " → ";
        cycle += services[static_cast<std::size_t>(start)].spec.name;
        int next = path.size() > 1 ? path[1] : start;
        const DepRef* at = edge[static_cast<std::size_t>(start)].at(next);
        c.error(at->pos, at->path, at->path + ": dependency cycle: " + cycle,
                "remove one of these depends_on entries");
    }
}

}  // namespace reins::config::detail
