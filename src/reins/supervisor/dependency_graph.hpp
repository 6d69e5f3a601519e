// The graph of depends_on: strongly connected components (cycles), the
// shortest cycle through a service, and each service's depth. Nodes are
// indices 0..n-1; deps[v] lists the nodes v depends on. Iterative
// throughout: a long chain of dependencies must not exhaust the stack.
#pragma once

#include <vector>

namespace reins::supervisor {

using DependencyLists = std::vector<std::vector<int>>;

/// Tarjan's strongly connected components. A node's dependencies come out
/// in earlier components than the node itself (unless they share one).
std::vector<std::vector<int>> dependency_components(const DependencyLists& deps);

/// The shortest way from `start` back to itself inside `component` (which
/// holds it): the nodes in order, beginning with `start`, without repeating
/// it at the end. {start} for a node that depends on itself.
std::vector<int> shortest_cycle(const DependencyLists& deps, const std::vector<int>& component, int start);

/// The first cycle, in the order of the nodes: the component holding the
/// lowest node that is part of a cycle, as shortest_cycle from that node.
/// Empty when the graph has no cycle.
std::vector<int> first_cycle(const DependencyLists& deps);

/// Each node's depth: 0 when it depends on nothing, else one more than its
/// deepest dependency (edges inside a cycle are not counted).
std::vector<int> dependency_depths(const DependencyLists& deps);

}  // namespace reins::supervisor
