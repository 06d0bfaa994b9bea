#include "gnnkit/nn/two_tower.hpp"

#include <cmath>
#include <cstring>

#include "gnnkit/core/error.hpp"
#include "gnnkit/kernels/sparse.hpp"
#include "gnnkit/nn/functional.hpp"
#include "gnnkit/train/loss.hpp"

namespace gnnkit::nn {
namespace {

constexpr const char* kFn = "TwoTower";

template <typename T>
T dot(const T* a, const T* b, std::int64_t d) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (std::int64_t j = 0; j < d; ++j) s += a[j] * b[j];
  return s;
}

template <typename T>
void axpy(T alpha, const T* x, T* y, std::int64_t d) {
#pragma omp simd
  for (std::int64_t j = 0; j < d; ++j) y[j] += alpha * x[j];
}

/// The model's graph has the layout interaction_graph makes; anything else is a caller error.
void check_layout(const char* fn, const Schema& schema, std::int64_t users, std::int64_t items) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    schema.num_node_types() == 2 && schema.num_relations() == 2 &&
                        schema.relation_id(TwoTower::kRelation) == 0,
                    "the graph must come from TwoTower::interaction_graph (node types user and "
                    "item, relations '{}' and its reverse)", TwoTower::kRelation);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    schema.num_nodes(TwoTower::kUser) == users &&
                        schema.num_nodes(TwoTower::kItem) == items,
                    "the graph has {} users and {} items, the model {} and {}",
                    schema.num_nodes(TwoTower::kUser), schema.num_nodes(TwoTower::kItem), users,
                    items);
}

}  // namespace

void validate(const TwoTowerOptions& o) {
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, o.layers >= 1 && o.layers <= 4,
                    "'layers' must be in [1, 4], got {}", o.layers);
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, o.dim >= 1 && o.dim <= 4096,
                    "'dim' must be in [1, 4096], got {}", o.dim);
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, o.hidden >= 1 && o.hidden <= 4096,
                    "'hidden' must be in [1, 4096], got {}", o.hidden);
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, o.dropout >= 0 && o.dropout < 1,
                    "'dropout' must be in [0, 1), got {}", o.dropout);
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, o.reg >= 0 && std::isfinite(o.reg),
                    "'reg' must be >= 0, got {}", o.reg);
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, o.init_scale > 0 && std::isfinite(o.init_scale),
                    "'init_scale' must be positive, got {}", o.init_scale);
}

HeteroGraph TwoTower::interaction_graph(const Context& ctx, std::int64_t num_users,
                                        std::int64_t num_items,
                                        std::span<const std::int64_t> user_indptr,
                                        std::span<const std::int32_t> items) {
  constexpr const char* fn = "TwoTower::interaction_graph";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, num_users >= 1 && num_items >= 1,
                    "needs at least one user and one item, got {} and {}", num_users, num_items);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    std::int64_t(user_indptr.size()) == num_users + 1 && user_indptr[0] == 0 &&
                        user_indptr.back() == std::int64_t(items.size()),
                    "'user_indptr' must have {} entries from 0 to {} (the item count), got {} "
                    "entries", num_users + 1, items.size(), user_indptr.size());
  std::vector<std::int64_t> src(items.size()), dst(items.size());
  for (std::int64_t u = 0; u < num_users; ++u) {
    const std::int64_t b = user_indptr[std::size_t(u)], e = user_indptr[std::size_t(u) + 1];
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, b <= e,
                      "'user_indptr' must not decrease: entry {} is {}, entry {} is {}", u, b,
                      u + 1, e);
    for (std::int64_t k = b; k < e; ++k) {
      const std::int32_t it = items[std::size_t(k)];
      GNNKIT_EXPECTS_AS(OutOfRange, fn, it >= 0 && it < num_items,
                        "item of user {} (entry {}) must be in [0, {}), got {}", u, k, num_items,
                        it);
      src[std::size_t(k)] = u;
      dst[std::size_t(k)] = it;
    }
  }
  BuildOptions bo;
  bo.add_reverse = true;
  bo.build_csr = true;  // link sampling excludes known positives by binary search
  bo.drop_duplicates = true;
  const std::int64_t n = std::int64_t(src.size());
  const TensorView sv(src.data(), DType::kInt64, Device::cpu(), {n});
  const TensorView dv(dst.data(), DType::kInt64, Device::cpu(), {n});
  return HeteroGraph::from_coo(ctx, {{"user", num_users}, {"item", num_items}},
                               {RelationInput{{"user", kRelation, "item"}, sv, dv, std::nullopt, std::nullopt}}, bo);
}

LinkSampler TwoTower::link_sampler(const HeteroGraph& graph, std::vector<std::int64_t> fanouts,
                                   std::int64_t negatives) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "TwoTower::link_sampler", negatives >= 1,
                    "'negatives' must be >= 1, got {}", negatives);
  SamplingOptions so;
  so.fanouts = std::move(fanouts);
  LinkSamplingOptions lo;
  lo.num_negatives = negatives;
  lo.exclude_positives = true;
  lo.max_tries = 200;
  return LinkSampler(std::make_shared<NeighborSampler>(graph, so), kRelation, lo);
}

TwoTower::TwoTower(std::int64_t num_users, std::int64_t num_items, const Tensor& item_features,
                   const TwoTowerOptions& options, DType dtype)
    : users_(num_users), items_(num_items), options_(options), dtype_(dtype) {
  validate(options_);
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, num_users >= 1 && num_items >= 1,
                    "needs at least one user and one item, got {} and {}", num_users, num_items);
  if (item_features.defined()) {
    GNNKIT_EXPECTS_AS(ShapeMismatch, kFn,
                      item_features.ndim() == 2 && item_features.size(0) == num_items &&
                          item_features.size(1) >= 1,
                      "'item_features' must have shape [{}, F] (one row per item), got {}",
                      num_items, item_features.str());
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, item_features.dtype() == dtype,
                      "'item_features' must be {} like the model, got {}", dtype,
                      item_features.dtype());
    GNNKIT_EXPECTS_AS(DeviceMismatch, kFn, item_features.device().is_cpu(),
                      "'item_features' must be on the cpu, got {}", item_features.device());
    item_features_ = item_features.clone();  // the model's own copy: later edits do not leak in
    features_ = item_features.size(1);
  }
  user_embedding_ = params_.add("user_embedding", {num_users, options_.dim}, Init::kNormal,
                                options_.seed, dtype, options_.init_scale);
  item_embedding_ = params_.add("item_embedding", {num_items, options_.dim}, Init::kNormal,
                                options_.seed, dtype, options_.init_scale);
  user_embedding_->sparse_rows = item_embedding_->sparse_rows = options_.sparse_updates;
  GnnModelOptions mo;
  mo.conv = ConvKind::kSage;
  mo.num_layers = options_.layers;
  mo.hidden = options_.hidden;
  mo.out = options_.dim;
  mo.aggr = options_.aggr;
  mo.dropout = options_.dropout;
  ModelSpec spec;
  spec.in_features = {options_.dim, options_.dim + features_};
  // Relation ids as interaction_graph lays them out: 0 user -> item, 1 item -> user.
  spec.relations = {{0, kUser, kItem}, {1, kItem, kUser}};
  spec.target_type = kUser;
  model_ = std::make_unique<GnnModel>(spec, mo, options_.seed, dtype);
  for (const ParameterPtr& p : model_->parameters()) params_.adopt(p);
}

std::vector<Tensor> TwoTower::inputs(const Context& ctx, const MiniBatch& mb) const {
  const std::int64_t d = options_.dim, w = d + features_;
  const int threads = ctx.num_threads();
  const auto& users = mb.nodes[kUser];
  const auto& items = mb.nodes[kItem];
  for (std::size_t i = 0; i < users.size(); ++i)
    GNNKIT_EXPECTS_AS(OutOfRange, "TwoTower::loss_and_grad", users[i] >= 0 && users[i] < users_,
                      "batch user {} is {}, outside the model's [0, {})", i, users[i], users_);
  for (std::size_t i = 0; i < items.size(); ++i)
    GNNKIT_EXPECTS_AS(OutOfRange, "TwoTower::loss_and_grad", items[i] >= 0 && items[i] < items_,
                      "batch item {} is {}, outside the model's [0, {})", i, items[i], items_);
  Tensor xu = new_matrix(ctx, std::int64_t(users.size()), d, dtype_);
  Tensor xi = new_matrix(ctx, std::int64_t(items.size()), w, dtype_);
  dispatch_float(dtype_, kFn, [&]<typename T>(T) {
    kernels::cpu::gather_rows(user_embedding_->value.data_as<T>(), d, d, users.data(),
                              std::int64_t(users.size()), xu.data_as<T>(), d, threads);
    kernels::cpu::gather_rows(item_embedding_->value.data_as<T>(), d, d, items.data(),
                              std::int64_t(items.size()), xi.data_as<T>(), w, threads);
    if (features_ > 0)
      kernels::cpu::gather_rows(item_features_.data_as<T>(), features_, features_, items.data(),
                                std::int64_t(items.size()), xi.data_as<T>() + d, w, threads);
  });
  return {xu, xi};
}

std::vector<Tensor> TwoTower::forward_batch(const Context& ctx, const LinkBatch& batch,
                                            bool training, std::uint64_t step,
                                            std::vector<LayerGraph>& graphs,
                                            GnnModel::Cache* cache) const {
  constexpr const char* fn = "TwoTower::loss_and_grad";
  const MiniBatch& mb = batch.mini_batch;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    mb.nodes.size() == 2 && mb.relations.size() == 2 &&
                        mb.relations[0].src_type == kUser && mb.relations[0].dst_type == kItem,
                    "the batch must be sampled from TwoTower::interaction_graph (2 node types, "
                    "relation 0 user -> item), got {} node types and {} relations",
                    mb.nodes.size(), mb.relations.size());
  const std::int64_t p = std::int64_t(batch.src.size());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, p > 0 && batch.dst.size() == batch.src.size(),
                    "the batch needs positives with one dst each, got {} src and {} dst", p,
                    batch.dst.size());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    !batch.neg_dst.empty() && std::int64_t(batch.neg_dst.size()) % p == 0,
                    "the batch needs k >= 1 negatives per positive ({} positives), got {} "
                    "negatives", p, batch.neg_dst.size());
  graphs = layer_graphs(mb, options_.layers, ctx.num_threads(), training);
  // The triples index the last layer's output rows: every id must be one of its rows.
  const std::int64_t out_users = graphs.back().num_dst[kUser], out_items = graphs.back().num_dst[kItem];
  const auto check_ids = [&](const std::vector<std::int32_t>& ids, std::int64_t rows, const char* what) {
    for (std::size_t i = 0; i < ids.size(); ++i)
      GNNKIT_EXPECTS_AS(OutOfRange, fn, ids[i] >= 0 && ids[i] < rows,
                        "batch '{}'[{}] = {} is not a seed row of the batch (it has {})", what, i,
                        ids[i], rows);
  };
  check_ids(batch.src, out_users, "src");
  check_ids(batch.dst, out_items, "dst");
  check_ids(batch.neg_dst, out_items, "neg_dst");
  const ForwardMode mode{training, mix64(options_.seed ^ mix64(step + 0x7457ull)), false};
  return model_->forward_types(ctx, graphs, inputs(ctx, mb), mode, cache);
}

double TwoTower::loss_and_grad(const Context& ctx, const LinkBatch& batch, std::uint64_t step) {
  std::vector<LayerGraph> graphs;
  GnnModel::Cache cache;
  const std::vector<Tensor> h = forward_batch(ctx, batch, true, step, graphs, &cache);
  const std::int64_t p = std::int64_t(batch.src.size());
  const std::int64_t k = std::int64_t(batch.neg_dst.size()) / p;
  const std::int64_t d = options_.dim, w = d + features_;
  const Tensor& hu = h[kUser];
  const Tensor& hi = h[kItem];
  const MiniBatch& mb = batch.mini_batch;
  Tensor gu = zeros_matrix(ctx, hu.size(0), d, dtype_);
  Tensor gi = zeros_matrix(ctx, hi.size(0), d, dtype_);
  Tensor pos = Tensor::empty({p}, dtype_), neg = Tensor::empty({p, k}, dtype_);
  Tensor pos_grad = Tensor::empty({p}, dtype_), neg_grad = Tensor::empty({p, k}, dtype_);
  double loss = 0;
  dispatch_float(dtype_, kFn, [&]<typename T>(T) {
    const T* U = hu.data_as<T>();
    const T* I = hi.data_as<T>();
    T* ps = pos.data_as<T>();
    T* ns = neg.data_as<T>();
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(static) if (p * k * d > 65536)
    for (std::int64_t i = 0; i < p; ++i) {
      const T* u = U + std::int64_t(batch.src[std::size_t(i)]) * d;
      ps[i] = dot(u, I + std::int64_t(batch.dst[std::size_t(i)]) * d, d);
      for (std::int64_t j = 0; j < k; ++j)
        ns[i * k + j] = dot(u, I + std::int64_t(batch.neg_dst[std::size_t(i * k + j)]) * d, d);
    }
    loss = bpr_loss(ctx, pos, neg, pos_grad, neg_grad);
    // d(loss)/dh: sequential, since users and items repeat across triples.
    T* GU = gu.data_as<T>();
    T* GI = gi.data_as<T>();
    const T* pg = pos_grad.data_as<T>();
    const T* ng = neg_grad.data_as<T>();
    for (std::int64_t i = 0; i < p; ++i) {
      const std::int64_t su = batch.src[std::size_t(i)], si = batch.dst[std::size_t(i)];
      axpy(pg[i], I + si * d, GU + su * d, d);
      axpy(pg[i], U + su * d, GI + si * d, d);
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int64_t sj = batch.neg_dst[std::size_t(i * k + j)];
        axpy(ng[i * k + j], I + sj * d, GU + su * d, d);
        axpy(ng[i * k + j], U + su * d, GI + sj * d, d);
      }
    }
  });
  const std::vector<Tensor> gx = model_->backward_types(ctx, graphs, cache, {gu, gi}, true);
  dispatch_float(dtype_, kFn, [&]<typename T>(T) {
    const int threads = ctx.num_threads();
    T* GE_u = user_embedding_->grad.data_as<T>();
    T* GE_i = item_embedding_->grad.data_as<T>();
    const auto& users = mb.nodes[kUser];
    const auto& items = mb.nodes[kItem];
    // Every batch node's row may get gradient: a row-sparse table must list them all.
    if (user_embedding_->sparse_rows) user_embedding_->mark_rows(users);
    if (item_embedding_->sparse_rows) item_embedding_->mark_rows(items);
    if (gx[kUser].defined())
      kernels::cpu::scatter_add_rows(gx[kUser].data_as<T>(), d, d, users.data(),
                                     std::int64_t(users.size()), GE_u, d, threads);
    if (gx[kItem].defined())
      kernels::cpu::scatter_add_rows(gx[kItem].data_as<T>(), w, d, items.data(),
                                     std::int64_t(items.size()), GE_i, d, threads);
    // L2 on the triples' ID embeddings, as LightGCN's code with k triples per positive:
    // reg / 2 * (|e_u|² + |e_i|² + Σ_j |e_j|² / k) / P.
    if (options_.reg > 0) {
      const T scale = T(options_.reg / double(p));
      const T neg_scale = T(options_.reg / double(p * k));
      const T* EU = user_embedding_->value.data_as<T>();
      const T* EI = item_embedding_->value.data_as<T>();
      for (std::int64_t i = 0; i < p; ++i) {
        const std::int64_t u = users[std::size_t(batch.src[std::size_t(i)])];
        const std::int64_t it = items[std::size_t(batch.dst[std::size_t(i)])];
        axpy(scale, EU + u * d, GE_u + u * d, d);
        axpy(scale, EI + it * d, GE_i + it * d, d);
        for (std::int64_t j = 0; j < k; ++j) {
          const std::int64_t jt = items[std::size_t(batch.neg_dst[std::size_t(i * k + j)])];
          axpy(neg_scale, EI + jt * d, GE_i + jt * d, d);
        }
      }
    }
  });
  return loss;
}

void TwoTower::score(const Context& ctx, const LinkBatch& batch, std::vector<double>& pos,
                     std::vector<double>& neg) const {
  std::vector<LayerGraph> graphs;
  const std::vector<Tensor> h = forward_batch(ctx, batch, false, 0, graphs, nullptr);
  const std::int64_t p = std::int64_t(batch.src.size());
  const std::int64_t k = std::int64_t(batch.neg_dst.size()) / p;
  const std::int64_t d = options_.dim;
  pos.assign(std::size_t(p), 0);
  neg.assign(std::size_t(p * k), 0);
  dispatch_float(dtype_, kFn, [&]<typename T>(T) {
    const T* U = h[kUser].data_as<T>();
    const T* I = h[kItem].data_as<T>();
    for (std::int64_t i = 0; i < p; ++i) {
      const T* u = U + std::int64_t(batch.src[std::size_t(i)]) * d;
      pos[std::size_t(i)] = double(dot(u, I + std::int64_t(batch.dst[std::size_t(i)]) * d, d));
      for (std::int64_t j = 0; j < k; ++j)
        neg[std::size_t(i * k + j)] =
            double(dot(u, I + std::int64_t(batch.neg_dst[std::size_t(i * k + j)]) * d, d));
    }
  });
}

void TwoTower::embeddings(const Context& ctx, const HeteroGraph& graph, Tensor& user,
                          Tensor& item) const {
  check_layout("TwoTower::embeddings", graph.schema(), users_, items_);
  const std::int64_t d = options_.dim;
  Tensor xi = item_embedding_->value;
  if (features_ > 0) {
    xi = new_matrix(ctx, items_, d + features_, dtype_);
    dispatch_float(dtype_, kFn, [&]<typename T>(T) {
      const T* e = item_embedding_->value.data_as<T>();
      const T* f = item_features_.data_as<T>();
      T* x = xi.data_as<T>();
      for (std::int64_t i = 0; i < items_; ++i) {
        std::memcpy(x + i * (d + features_), e + i * d, std::size_t(d) * sizeof(T));
        std::memcpy(x + i * (d + features_) + d, f + i * features_,
                    std::size_t(features_) * sizeof(T));
      }
    });
  }
  const auto graphs = full_graph_layers(graph, options_.layers, ctx.num_threads(), false);
  std::vector<Tensor> h = model_->forward_types(ctx, graphs, {user_embedding_->value, xi},
                                                ForwardMode{}, nullptr);
  user = h[kUser];
  item = h[kItem];
}

}  // namespace gnnkit::nn
