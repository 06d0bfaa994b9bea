#pragma once
/// @file
/// Seed-identity input columns for disjoint mini-batches (the feature-augmentation form of
/// identity-aware GNNs, You et al., AAAI 2021).
///
/// Message passing cannot tell whether two nodes of a neighbourhood are the same entity. In a
/// payment graph, the payment's card leads to earlier payments on that card, and those to
/// their users; whether such a user is the paying user (the card's owner, paying again) or
/// another account (a stolen card, checked by someone else first) is invisible to the layers,
/// although it is the whole story. These columns tell it.
///
/// The target type's functional relations are the relations into it in which every target
/// node has exactly one source: a transaction's user, card, device... For a disjoint
/// MiniBatch (one subtree per seed, MiniBatch::node_seed) the columns of a sampled node are
///   - target type: per functional relation j, 1 when the node's j-entity is its seed's
///     j-entity (same user as the paying one, same device...), else 0; the seed itself has 1s;
///   - an entity type X of a functional relation: 1 when the node is one of its seed's own
///     entities of type X, else 0;
///   - other types: no columns.
/// A graph without functional relations into the target gets no columns at all.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "gnnkit/core/error.hpp"
#include "gnnkit/graph/hetero_graph.hpp"
#include "gnnkit/sampling/mini_batch.hpp"

namespace gnnkit {

class SeedIdentity {
 public:
  SeedIdentity() = default;

  /// @brief Finds the functional relations into node type `target` (one pass over each
  /// relation's CSC offsets into target).
  SeedIdentity(const HeteroGraph& graph, int target) : graph_(&graph), target_(target) {
    const Schema& schema = graph.schema();
    GNNKIT_EXPECTS_AS(InvalidArgument, "SeedIdentity", target >= 0 && target < schema.num_node_types(),
                      "'target' must be a node type id in [0, {}), got {}", schema.num_node_types(), target);
    columns_.assign(std::size_t(schema.num_node_types()), 0);
    for (int r = 0; r < schema.num_relations(); ++r) {
      if (schema.node_type_id(schema.relation(r).dst) != target) continue;
      const Relation& rel = graph.relation(r);
      const auto ptr = rel.csc_indptr.as<std::int64_t>();
      bool functional = rel.num_dst > 0;
      for (std::int64_t v = 0; functional && v < rel.num_dst; ++v)
        functional = ptr[std::size_t(v + 1)] - ptr[std::size_t(v)] == 1;
      if (!functional) continue;
      const int entity_type = schema.node_type_id(schema.relation(r).src);
      relations_.push_back(r);
      entity_types_.push_back(entity_type);
      if (entity_type != target) columns_[std::size_t(entity_type)] = 1;
    }
    columns_[std::size_t(target)] = std::int64_t(relations_.size());
  }

  int target() const noexcept { return target_; }
  /// Functional relation ids into the target, in schema order (column order of the target).
  const std::vector<int>& relations() const noexcept { return relations_; }
  /// Source node type of each functional relation.
  const std::vector<int>& entity_types() const noexcept { return entity_types_; }
  /// Extra input columns of node type `type`.
  std::int64_t columns(int type) const {
    return type >= 0 && std::size_t(type) < columns_.size() ? columns_[std::size_t(type)] : 0;
  }
  bool empty() const noexcept { return relations_.empty(); }

  /// The j-th functional entity of target node v in the graph.
  std::int64_t entity(std::size_t j, std::int64_t v) const {
    const Relation& rel = graph_->relation(relations_[j]);
    const std::int64_t p = rel.csc_indptr.as<std::int64_t>()[std::size_t(v)];
    return rel.index_dtype() == DType::kInt32 ? std::int64_t(rel.csc_indices.as<std::int32_t>()[std::size_t(p)])
                                              : rel.csc_indices.as<std::int64_t>()[std::size_t(p)];
  }

  /// @brief Writes the columns of node type `type` for mb's nodes of that type: row i at
  /// out + i * ld, columns(type) floats. entity_of(j, v) gives the j-th functional entity of
  /// target node v (a scorer passes one that also knows its not-yet-stored transactions); it
  /// must be safe to call from several threads. Rows are filled on up to `threads` threads.
  /// @throws InvalidArgument when mb is not disjoint or its seeds are not of the target type
  template <class EntityOf>
  void fill(const MiniBatch& mb, int type, float* out, std::int64_t ld, EntityOf&& entity_of,
            int threads = 1) const {
    const std::int64_t cols = columns(type);
    if (cols == 0) return;
    GNNKIT_EXPECTS_AS(InvalidArgument, "SeedIdentity::fill", mb.node_seed.size() == mb.nodes.size(),
                      "needs a disjoint mini-batch (MiniBatch::node_seed per node type), got {} of {} types",
                      mb.node_seed.size(), mb.nodes.size());
    GNNKIT_EXPECTS_AS(InvalidArgument, "SeedIdentity::fill", mb.seed_type == target_,
                      "the mini-batch's seeds are of node type {}, the identity columns are for type {}",
                      mb.seed_type, target_);
    GNNKIT_EXPECTS_AS(OutOfRange, "SeedIdentity::fill",
                      type >= 0 && std::size_t(type) < mb.nodes.size() && std::size_t(target_) < mb.nodes.size(),
                      "node type {} (and the target type {}) must be in [0, {}) (the mini-batch's types)",
                      type, target_, mb.nodes.size());
    const auto& nodes = mb.nodes[std::size_t(type)];
    const auto& subtree = mb.node_seed[std::size_t(type)];
    const auto& targets = mb.nodes[std::size_t(target_)];
    const std::size_t k = relations_.size();
    // A malformed batch must not index out of bounds below.
    for (std::size_t s = 0; s < mb.seed_local.size(); ++s)
      GNNKIT_EXPECTS_AS(OutOfRange, "SeedIdentity::fill",
                        mb.seed_local[s] >= 0 && std::size_t(mb.seed_local[s]) < targets.size(),
                        "seed_local[{}] = {} must be in [0, {})", s, mb.seed_local[s], targets.size());
    GNNKIT_EXPECTS_AS(InvalidArgument, "SeedIdentity::fill", subtree.size() == nodes.size(),
                      "node_seed of type {} must have one entry per node ({}), got {}", type,
                      nodes.size(), subtree.size());
    for (std::size_t i = 0; i < subtree.size(); ++i)
      GNNKIT_EXPECTS_AS(OutOfRange, "SeedIdentity::fill",
                        subtree[i] >= 0 && std::size_t(subtree[i]) < mb.seed_local.size(),
                        "node_seed[{}][{}] = {} must be in [0, {}) (the seeds)", type, i, subtree[i],
                        mb.seed_local.size());
    // The seeds' own entities, once per subtree.
    std::vector<std::int64_t> seed_entity(mb.seed_local.size() * k);
    for (std::size_t s = 0; s < mb.seed_local.size(); ++s)
      for (std::size_t j = 0; j < k; ++j)
        seed_entity[s * k + j] = entity_of(j, targets[std::size_t(mb.seed_local[s])]);
    const auto n = std::int64_t(nodes.size());
    // Each row reads k random entity lists: worth a few threads on a training batch.
#pragma omp parallel for num_threads(n > 4096 ? std::max(threads, 1) : 1) schedule(static)
    for (std::int64_t r = 0; r < n; ++r) {
      const auto i = std::size_t(r);
      const std::int64_t* own = seed_entity.data() + std::size_t(subtree[i]) * k;
      float* row = out + std::int64_t(i) * ld;
      if (type == target_) {
        for (std::size_t j = 0; j < k; ++j) row[j] = entity_of(j, nodes[i]) == own[j] ? 1.f : 0.f;
      } else {
        bool mine = false;
        for (std::size_t j = 0; j < k; ++j) mine |= entity_types_[j] == type && own[j] == nodes[i];
        row[0] = mine ? 1.f : 0.f;
      }
    }
  }

  /// fill() with the graph's own entities.
  void fill(const MiniBatch& mb, int type, float* out, std::int64_t ld, int threads = 1) const {
    if (graph_ == nullptr || columns(type) == 0) return;  // no identity columns: nothing to fill
    // entity() indexes this graph's lists by the target nodes' ids: a batch sampled from
    // another graph must be an error, not a read out of bounds.
    GNNKIT_EXPECTS_AS(InvalidArgument, "SeedIdentity::fill",
                      std::int64_t(mb.nodes.size()) == graph_->schema().num_node_types(),
                      "the mini-batch has {} node types, this graph {}: a batch of another graph?",
                      mb.nodes.size(), graph_->schema().num_node_types());
    const std::int64_t n_target = graph_->schema().num_nodes(target_);
    for (const std::int64_t v : mb.nodes[std::size_t(target_)])
      GNNKIT_EXPECTS_AS(OutOfRange, "SeedIdentity::fill", v >= 0 && v < n_target,
                        "node {} of type '{}' is not in this graph ({} nodes): a batch of another graph?",
                        v, graph_->schema().node_type(target_), n_target);
    fill(mb, type, out, ld, [this](std::size_t j, std::int64_t v) { return entity(j, v); }, threads);
  }

  /// "user, card, device" (the entity types of the target's columns), for logs and reports.
  std::string describe() const {
    std::string s;
    for (std::size_t j = 0; j < entity_types_.size(); ++j) {
      if (j > 0) s.append(", ");
      s.append(graph_->schema().node_type(entity_types_[j]));
    }
    return s;
  }

 private:
  const HeteroGraph* graph_ = nullptr;
  int target_ = -1;
  std::vector<int> relations_, entity_types_;
  std::vector<std::int64_t> columns_;
};

}  // namespace gnnkit
