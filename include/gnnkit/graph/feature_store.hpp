#pragma once
/// @file
/// FeatureStore: per node type named float32 matrices, int64 label vectors and per-node
/// timestamps; per relation named float32 edge-feature matrices (rows indexed by edge id).
/// Gathers rows by id in parallel into caller-provided (reusable) buffers.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/host_array.hpp"
#include "gnnkit/core/tensor_view.hpp"

namespace gnnkit {

/// @brief A row-major float32 matrix stored in a HostArray.
struct FeatureMatrix {
  HostArray data;  ///< float32 [rows * cols]
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  const float* row(std::int64_t r) const { return data.as<float>().data() + r * cols; }
};

class FeatureStore {
 public:
  /// @brief Which kind of per-owner array an entry is.
  enum class Kind : std::uint8_t { kNodeFeatures, kLabels, kNodeTimes, kEdgeFeatures };

  struct Key {
    Kind kind;
    std::string owner;  ///< node type, or relation "src__rel__dst" for edge features
    std::string name;   ///< feature name ("" for labels and times)
    auto operator<=>(const Key&) const = default;
  };

  /// @brief Sets (or replaces) a float32 matrix of `rows` x `cols` for node type `type`.
  /// @param check_finite scan for NaN/Inf and reject them (naming row and column)
  /// @throws InvalidArgument for a wrong dtype or size, or a non-finite value
  void set_node_features(const std::string& type, const std::string& name, HostArray data,
                         std::int64_t rows, std::int64_t cols, bool check_finite = true) {
    set_matrix({Kind::kNodeFeatures, type, name}, std::move(data), rows, cols, check_finite);
  }
  /// @brief Per relation edge features, rows indexed by edge id.
  void set_edge_features(const std::string& relation, const std::string& name, HostArray data,
                         std::int64_t rows, std::int64_t cols, bool check_finite = true) {
    set_matrix({Kind::kEdgeFeatures, relation, name}, std::move(data), rows, cols, check_finite);
  }
  /// @brief int64 labels, one per node (-1 for unlabelled by convention).
  void set_labels(const std::string& type, HostArray labels) {
    set_vector({Kind::kLabels, type, ""}, std::move(labels), "labels");
  }
  /// @brief int64 per-node timestamps (e.g. a transaction's time).
  void set_node_times(const std::string& type, HostArray times) {
    set_vector({Kind::kNodeTimes, type, ""}, std::move(times), "times");
  }

  bool contains(const Key& key) const { return entries_.count(key) != 0; }
  /// @throws InvalidArgument naming the missing entry and what exists for its owner
  const FeatureMatrix& get(const Key& key) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      std::string have;
      for (const auto& [k, v] : entries_)
        if (k.owner == key.owner) have += (have.empty() ? "" : ", ") + describe(k);
      throw InvalidArgument("FeatureStore", detail::format("no {} (stored for '{}': {})",
                                                           describe(key), key.owner,
                                                           have.empty() ? "nothing" : have));
    }
    return it->second;
  }
  const FeatureMatrix& node_features(const std::string& type, const std::string& name) const {
    return get({Kind::kNodeFeatures, type, name});
  }
  const FeatureMatrix& edge_features(const std::string& relation, const std::string& name) const {
    return get({Kind::kEdgeFeatures, relation, name});
  }
  const HostArray& labels(const std::string& type) const {
    return get({Kind::kLabels, type, ""}).data;
  }
  const HostArray& node_times(const std::string& type) const {
    return get({Kind::kNodeTimes, type, ""}).data;
  }
  const std::map<Key, FeatureMatrix>& entries() const noexcept { return entries_; }
  /// @brief Replaces an entry without checks (used by the file loader after its own checks).
  void insert_unchecked(Key key, FeatureMatrix m) { entries_[std::move(key)] = std::move(m); }

  /// @brief out[i, :] = features[ids[i], :] for i in [0, n), in parallel over rows.
  /// @param ids int64 [n] on cpu; @param out float32 [n, cols] on cpu, rows contiguous
  /// @throws OutOfRange naming the first bad position and id; InvalidArgument / ShapeMismatch
  void gather(const Context& ctx, const Key& key, const TensorView& ids,
              const TensorView& out) const {
    constexpr const char* fn = "FeatureStore::gather";
    const FeatureMatrix& m = get(key);
    check::dtype_and_device(fn, "ids", ids, DType::kInt64, Device::cpu());
    check::dtype_and_device(fn, "out", out, DType::kFloat32, Device::cpu());
    check::ndim(fn, "ids", ids, 1);
    check::ndim(fn, "out", out, 2);
    const std::int64_t n = ids.size(0);
    GNNKIT_EXPECTS_AS(ShapeMismatch, fn, out.size(0) == n && out.size(1) == m.cols,
                      "'out' must be [{}, {}] for {} ids of '{}', got {}", n, m.cols, n,
                      describe(key), out.str());
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, out.stride(1) == 1 || m.cols <= 1,
                      "'out' rows must be contiguous, got {}", out.str());
    const std::int64_t* idp = static_cast<const std::int64_t*>(ids.data());
    const std::int64_t id_stride = ids.stride(0);
    float* dst = static_cast<float*>(out.data());
    const std::int64_t out_stride = out.stride(0);
    const float* src = m.data.as<float>().data();
    const std::size_t row_bytes = std::size_t(m.cols) * sizeof(float);
    std::int64_t first_bad = n;
    const int threads = n > 4096 ? ctx.num_threads() : 1;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(min : first_bad)
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t id = idp[i * id_stride];
      if (id < 0 || id >= m.rows) {
        first_bad = std::min(first_bad, i);
        continue;
      }
      std::memcpy(dst + i * out_stride, src + id * m.cols, row_bytes);
    }
    if (first_bad < n)
      throw OutOfRange(fn, detail::format("'ids[{}]' must be in [0, {}) for '{}', got {}",
                                          first_bad, m.rows, describe(key),
                                          idp[first_bad * id_stride]));
  }

  static std::string describe(const Key& k) {
    switch (k.kind) {
      case Kind::kNodeFeatures: return "node features '" + k.owner + "/" + k.name + "'";
      case Kind::kEdgeFeatures: return "edge features '" + k.owner + "/" + k.name + "'";
      case Kind::kLabels: return "labels of '" + k.owner + "'";
      case Kind::kNodeTimes: return "times of '" + k.owner + "'";
    }
    return "?";
  }

 private:
  void set_matrix(Key key, HostArray data, std::int64_t rows, std::int64_t cols, bool check_finite) {
    constexpr const char* fn = "FeatureStore::set";
    const std::string what = describe(key);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, !key.name.empty(), "{}: 'name' must not be empty", what);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, data.dtype() == DType::kFloat32,
                      "{} must be float32, got {}", what, data.dtype());
    GNNKIT_EXPECTS_AS(ShapeMismatch, fn, rows >= 0 && cols >= 0 && data.size() == rows * cols,
                      "{} must hold {} x {} values, got {}", what, rows, cols, data.size());
    if (check_finite) {
      const float* p = data.as<float>().data();
      const std::int64_t n = data.size();
      std::int64_t first = n;
#pragma omp parallel for reduction(min : first) schedule(static) if (n > 65536)
      for (std::int64_t i = 0; i < n; ++i)
        if (!std::isfinite(p[i])) first = std::min(first, i);
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, first == n,
                        "{} must be finite, got {} at row {}, column {}", what,
                        first < n ? p[first] : 0.f, cols ? first / cols : 0, cols ? first % cols : 0);
    }
    entries_[std::move(key)] = FeatureMatrix{std::move(data), rows, cols};
  }
  void set_vector(Key key, HostArray data, const char* what) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "FeatureStore::set", data.dtype() == DType::kInt64,
                      "{} of '{}' must be int64, got {}", what, key.owner, data.dtype());
    const std::int64_t n = data.size();
    entries_[std::move(key)] = FeatureMatrix{std::move(data), n, 1};
  }

  std::map<Key, FeatureMatrix> entries_;
};

}  // namespace gnnkit
