// depends_on across services: unknown names and cycles (docs/config.md),
// reported at the entry that names them.
#include "reins/config/graph.hpp"

#include <algorithm>
#include <map>

#include "reins/config/text.hpp"
#include "reins/supervisor/dependency_graph.hpp"

namespace reins::config::detail {

void check_graph(Checker& c, const std::vector<ServiceRead>& services) {
    std::map<std::string, int> by_name;
    std::vector<std::string_view> names;
    for (std::size_t i = 0; i < services.size(); ++i) {
        by_name.emplace(services[i].spec.name, static_cast<int>(i));
        names.push_back(services[i].spec.name);
    }
    // adj[i]: the services i depends on, with the entry that says so.
    supervisor::DependencyLists adj(services.size());
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
    for (auto& comp : supervisor::dependency_components(adj)) {
        int start = *std::min_element(comp.begin(), comp.end());  // first in the file
        bool self = edge[static_cast<std::size_t>(start)].count(start) != 0;
        if (comp.size() == 1 && !self) continue;
        std::vector<int> path = supervisor::shortest_cycle(adj, comp, start);
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
