#pragma once
/// @file
/// The layer ops on CUDA device memory, float32: SpMM aggregation (own kernel and
/// cusparseSpMM), its input gradient, row gathers, activation + dropout forward and backward,
/// row-major GEMM through cuBLAS, and the elementwise pieces of linear layers, optimisers and
/// the cross-entropy loss. Plain pointers into device memory and the Context's
/// stream / handles; no CUDA header here. Defined in cuda/ops.cu, or in cuda_stub.cpp (which
/// throws NotCompiled) when CUDA is off. Every op has a CPU twin it is tested against, on
/// its own (tests/cpp/cuda/test_cuda_ops.cpp) or through the layer that uses it
/// (test_cuda_layers.cpp): same shapes, same masks, relative error <= 1e-4. Ops that scatter
/// by atomic adds (input gradients of the aggregations) may differ between runs by rounding.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "gnnkit/core/fwd.hpp"
#include "gnnkit/nn/activation.hpp"
#include "gnnkit/nn/dropout_mask.hpp"
#include "gnnkit/train/loss_terms.hpp"
#include "gnnkit/train/update_rules.hpp"

namespace gnnkit::kernels::cuda {

/// A CSC (dst-major) adjacency in device memory: row v's sources are
/// indices[indptr[v], indptr[v + 1]). indptr starts at 0.
struct DeviceCsc {
  std::int64_t num_rows = 0;   ///< destinations
  std::int64_t num_cols = 0;   ///< sources
  std::int64_t num_edges = 0;
  const std::int64_t* indptr = nullptr;
  const std::int32_t* indices = nullptr;
};

/// @brief out[v] = sum (or mean, `mean`) over v's edges e of w[e] * x[src(e)] (w = 1 when
/// edge_weight is null); rows without edges get 0. With `heads` > 1 the weights are
/// [E, heads] and column c takes w[e, c / (F / heads)] (GAT's per-head attention). One warp
/// per destination row, lanes across the features (coalesced row reads). @throws DeviceError
void spmm_forward(const DeviceCsc& csc, const float* x, std::int64_t ldx, std::int64_t F,
                  const float* edge_weight, bool mean, float* out, std::int64_t ldo,
                  CUstream_st* stream, int heads = 1);

/// @brief Gradient of spmm_forward w.r.t. x: grad_x[src(e)] (+)= w[e] * grad_out[v]
/// (/ deg(v) for mean), by atomic adds (the order of additions may vary between runs, within
/// float rounding). Overwrites grad_x ([num_cols, F], ldx) unless `accumulate`.
void spmm_backward_x(const DeviceCsc& csc, const float* grad_out, std::int64_t ldg,
                     std::int64_t F, const float* edge_weight, bool mean, float* grad_x,
                     std::int64_t ldx, bool accumulate, CUstream_st* stream);

/// @brief Max aggregation: out[v, c] = max over v's edges of w[e] x[src(e), c] (the first edge
/// wins ties, as on the CPU) and argmax[v, c] = the winning edge's position in its row
/// (contiguous [num_rows, F]); rows without edges get 0 and -1.
void spmm_max_forward(const DeviceCsc& csc, const float* x, std::int64_t ldx, std::int64_t F,
                      const float* edge_weight, float* out, std::int64_t ldo, std::int32_t* argmax,
                      CUstream_st* stream);
/// @brief Its input gradient: grad_x[src(winner), c] (+)= w g[v, c] by atomic adds;
/// overwrites grad_x unless `accumulate`.
void spmm_max_backward_x(const DeviceCsc& csc, const float* grad_out, std::int64_t ldg, std::int64_t F,
                         const float* edge_weight, const std::int32_t* argmax, float* grad_x,
                         std::int64_t ldx, bool accumulate, CUstream_st* stream);
/// @brief HeteroConv's max over relations: out = max(out, y) elementwise over [rows, cols];
/// where y wins (strictly), winner (contiguous, or null) gets `index`.
void max_combine(float* out, std::int64_t ldo, const float* y, std::int64_t ldy, std::int64_t rows,
                 std::int64_t cols, std::int8_t* winner, std::int8_t index, CUstream_st* stream);
/// @brief Its backward: grad[r, c] = 0 where winner[r, c] != index.
void mask_winner(float* grad, std::int64_t ld, std::int64_t rows, std::int64_t cols, const std::int8_t* winner,
                 std::int8_t index, CUstream_st* stream);

/// @brief cusparseSpMM for the sum (optionally weighted) aggregation of one adjacency, with
/// its descriptors and external buffer kept per feature width F, so a training loop creates
/// them once. Holds an int32 copy of indptr (cuSPARSE wants one index type).
class CusparseSpmm {
 public:
  /// @throws InvalidArgument (2^31 edges or more), DeviceError, BackendError
  CusparseSpmm(cusparseContext* handle, const DeviceCsc& csc, const float* edge_weight,
               CUstream_st* stream);
  ~CusparseSpmm();
  CusparseSpmm(const CusparseSpmm&) = delete;
  CusparseSpmm& operator=(const CusparseSpmm&) = delete;
  /// @brief out[num_rows, F] = A x, x [num_cols, F]; both row-major and contiguous.
  void run(const float* x, std::int64_t F, float* out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// @name SDDMM: out[e, h] = <a[v, hC : (h + 1) C], b[u, hC : (h + 1) C]> for every edge e =
/// (u -> v) of the adjacency and head h < heads (a: destination rows, b: source rows, row
/// strides lda, ldb; out [E, heads]). GAT's per-edge attention gradient; the layer itself uses
/// gat_aggregate_backward, which computes it in the same pass as the source gradient.
/// @{
/// @brief Own kernel: a warp per destination row.
void edge_dots(const DeviceCsc& csc, const float* a, std::int64_t lda, const float* b, std::int64_t ldb, int heads,
               std::int64_t C, float* out, CUstream_st* stream);
/// @brief Through cusparseSDDMM, one call per head on column slices (B used transposed);
/// descriptors and the external buffer kept per operand shape, an int32 copy of indptr held.
class CusparseSddmm {
 public:
  /// @throws InvalidArgument (2^31 edges or more), DeviceError, BackendError
  CusparseSddmm(cusparseContext* handle, const DeviceCsc& csc, CUstream_st* stream);
  ~CusparseSddmm();
  CusparseSddmm(const CusparseSddmm&) = delete;
  CusparseSddmm& operator=(const CusparseSddmm&) = delete;
  void run(const float* a, std::int64_t lda, const float* b, std::int64_t ldb, int heads, std::int64_t C, float* out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};
/// @}

/// @brief out[i] = x[index[i]] for i < n (rows of width F). @throws DeviceError
void gather_rows(const float* x, std::int64_t ldx, std::int64_t F, const std::int64_t* index,
                 std::int64_t n, float* out, std::int64_t ldo, CUstream_st* stream);

/// @brief out[i] = src[index[i]] for i < n (int64 values: the labels of a batch's nodes).
void gather_int64(const std::int64_t* src, const std::int64_t* index, std::int64_t n, std::int64_t* out,
                  CUstream_st* stream);

/// The smallest and largest entry of an id array (min > max when it is empty) and how many
/// are negative.
struct IndexStats {
  std::int64_t min = 0, max = -1, negatives = 0;
};
/// @brief IndexStats of ids[0, n), read back to the host (waits for the stream): what a
/// gather checks before it reads through device ids, and a loss before it reads labels.
IndexStats index_stats(const std::int64_t* ids, std::int64_t n, CUstream_st* stream);

/// @name GAT's self loops on a device CSC (nn::Adjacency::with_self_loops): every edge u -> v
/// with u == v dropped, then one loop per row v < loops as the row's last edge.
/// @{
/// @brief Writes the new indptr ([num_rows + 1]) and returns its last entry, the new edge
/// count (read back to the host: the caller sizes the indices with it).
std::int64_t self_loop_indptr(const DeviceCsc& csc, std::int64_t loops, std::int64_t* indptr, CUstream_st* stream);
/// @brief Fills the new indices from that indptr (the kept edges in their order, then the loop).
void self_loop_indices(const DeviceCsc& csc, std::int64_t loops, const std::int64_t* indptr, std::int32_t* indices,
                       CUstream_st* stream);
/// @}

/// @name Normalisations (nn/functional.hpp's CPU loops, step by step), rows of width cols.
/// @{
/// @brief x[i] /= max(|x[i]|_2, 1e-12) in place; norms[i] gets that divisor.
void normalize_rows_forward(float* x, std::int64_t ld, std::int64_t rows, std::int64_t cols, double* norms,
                            CUstream_st* stream);
/// @brief In place on grad, from the forward's output y: g <- (g - y <g, y>) / n (g / n where
/// the norm was clamped).
void normalize_rows_backward(const float* y, std::int64_t ldy, const double* norms, float* grad, std::int64_t ldg,
                             std::int64_t rows, std::int64_t cols, CUstream_st* stream);
/// @brief y = (x - mean) / sqrt(var + eps) * gamma + beta per row (y and xhat contiguous;
/// xhat, the normalised x, only when not null); inv_std[i] = 1 / sqrt(var + eps).
void layer_norm_forward(const float* x, std::int64_t ldx, std::int64_t rows, std::int64_t cols, const float* gamma,
                        const float* beta, double eps, float* y, float* xhat, double* inv_std, CUstream_st* stream);
/// @brief grad_x (contiguous, overwritten) from grad_y; gamma_grad += column sums of
/// grad_y * xhat and beta_grad += column sums of grad_y (fixed order, as add_column_sums).
void layer_norm_backward(const float* xhat, std::int64_t rows, std::int64_t cols, const float* gamma,
                         const double* inv_std, const float* grad_y, std::int64_t ldg, float* grad_x,
                         float* gamma_grad, float* beta_grad, CUstream_st* stream);
/// @}

/// @brief The row-major position (i * cols + j) of the first NaN or infinity of x, or -1;
/// waits for the stream.
std::int64_t first_non_finite(const float* x, std::int64_t ld, std::int64_t rows, std::int64_t cols,
                              CUstream_st* stream);

/// @brief x = dropout(act(x)) in place over [rows, cols] (ld): the CPU's
/// nn::activation_dropout_forward, with the same DropoutMask(key, p) (p = 0: no dropout).
void activation_dropout_forward(nn::Activation act, float* x, std::int64_t rows,
                                std::int64_t cols, std::int64_t ld, float negative_slope,
                                double p, std::uint64_t key, CUstream_st* stream);

/// @brief grad *= the derivative of dropout(act(.)), from the forward's output y: the CPU's
/// nn::activation_dropout_backward.
void activation_dropout_backward(nn::Activation act, const float* y, std::int64_t ldy,
                                 float* grad, std::int64_t ldg, std::int64_t rows,
                                 std::int64_t cols, float negative_slope, double p,
                                 CUstream_st* stream);

/// @brief Row-major C[M, N] = alpha op(A) op(B) + beta C through cublasSgemm (FP32; TF32 only
/// when allow_tf32). op(A) is [M, K]: A is stored [K, M] when trans_a; op(B) is [K, N]: B is
/// stored [N, K] when trans_b. @throws BackendError naming the cuBLAS status
void sgemm(cublasContext* handle, bool trans_a, bool trans_b, std::int64_t M, std::int64_t N,
           std::int64_t K, float alpha, const float* A, std::int64_t lda, const float* B,
           std::int64_t ldb, float beta, float* C, std::int64_t ldc, bool allow_tf32 = false);

/// @name GAT (nn/gat_conv.hpp on a GPU): x rows hold `heads` slices of C columns.
/// @{
/// @brief a[i, h] = <x[i, h C : (h + 1) C], att[h, :]> for rows x [rows, heads C] (ld).
void head_dots(const float* x, std::int64_t ldx, std::int64_t rows, int heads, std::int64_t C,
               const float* att, float* a, CUstream_st* stream);
/// @brief Backward of head_dots: grad_x[i, h C + c] += ga[i, h] att[h, c] and
/// att_grad[h, c] += sum over i of ga[i, h] x[i, h C + c] (fixed-order sums).
void head_dots_backward(const float* x, std::int64_t ldx, std::int64_t rows, int heads,
                        std::int64_t C, const float* ga, const float* att, float* grad_x,
                        std::int64_t ldg, float* att_grad, CUstream_st* stream);
/// @brief Per destination row v: scores[e, h] = leaky_relu(a_src[src(e), h] + a_dst[v, h])
/// and alpha[e, h] = softmax over v's edges of scores (max subtracted): the CPU's
/// kernels::cpu::gat_attention_forward. One warp per row.
void gat_attention_forward(const DeviceCsc& csc, const float* a_src, const float* a_dst, int heads,
                           float negative_slope, float* scores, float* alpha, CUstream_st* stream);
/// @brief In place: grad holds d/d(alpha) on entry and d/d(a_src + a_dst) on return (softmax
/// backward per row and head, then leaky_relu's derivative from the score's sign).
void gat_attention_backward(const DeviceCsc& csc, const float* scores, const float* alpha, int heads,
                            float negative_slope, float* grad, CUstream_st* stream);
/// @brief Backward of spmm_forward with [E, heads] weights w: grad_h_src = sum over edges
/// (u -> v) of w[e, h] g[v] (overwritten; atomic adds), and grad_w[e, h] = <g[v], h_src[u]>
/// over head h's columns, from one read of both rows per edge.
void gat_aggregate_backward(const DeviceCsc& csc, const float* g, std::int64_t ldg, const float* h_src,
                            std::int64_t ldh, std::int64_t F, const float* w, int heads,
                            float* grad_h_src, std::int64_t ldx, float* grad_w, CUstream_st* stream);
/// @brief out[v, h] = sum over v's edges of values[e, h] (overwritten).
void edge_sum_to_dst(const DeviceCsc& csc, const float* values, int heads, float* out,
                     CUstream_st* stream);
/// @brief out[u, h] = sum over the edges leaving u of values[e, h] (overwritten; atomic adds).
void edge_sum_to_src(const DeviceCsc& csc, const float* values, int heads, float* out,
                     CUstream_st* stream);
/// @brief out[i, c] = mean over h of x[i, h C + c] (out contiguous [rows, C]).
void mean_heads(const float* x, std::int64_t ldx, std::int64_t rows, int heads, std::int64_t C,
                float* out, CUstream_st* stream);
/// @brief Backward of mean_heads: out[i, h C + c] = g[i, c] / heads (out contiguous).
void spread_heads(const float* g, std::int64_t ldg, std::int64_t rows, int heads, std::int64_t C,
                  float* out, CUstream_st* stream);
/// @}

/// @brief out[i, :] += bias[:] for every row i of out [rows, cols] (ld). @throws DeviceError
void add_bias_rows(float* out, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                   const float* bias, CUstream_st* stream);

/// @brief out[:] += the column sums of x [rows, cols] (ld): the bias gradient. Rows are cut
/// into a fixed number of chunks summed separately and the partial sums added in chunk
/// order, so the result is the same in every run (no atomics).
void add_column_sums(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                     float* out, CUstream_st* stream);

/// @brief dst = beta * dst + alpha * src over [rows, cols] (row strides ldd, lds; beta 0
/// ignores dst's old values, NaN included). @throws DeviceError
void scale_add(float* dst, std::int64_t ldd, const float* src, std::int64_t lds,
               std::int64_t rows, std::int64_t cols, float alpha, float beta,
               CUstream_st* stream);

/// @brief x[r, c] *= s over [rows, cols] (ld); s = 0 writes zeros (NaN included).
void scale(float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float s,
           CUstream_st* stream);

/// @brief Sum of x[i]^2 over n contiguous floats, accumulated in double in a fixed order;
/// waits for the stream (the result is read on the host). @throws DeviceError
double sum_squares(const float* x, std::int64_t n, CUstream_st* stream);

/// @brief One SGD step over n contiguous elements: train_detail::sgd_element (the CPU's
/// rule) per element; buf is the momentum buffer or null.
void sgd_update(const train_detail::SgdStep& step, float* w, const float* g, float* buf,
                std::int64_t n, CUstream_st* stream);

/// @brief One Adam / AdamW step over n contiguous elements: train_detail::adam_element.
void adam_update(const train_detail::AdamStep& step, float* w, const float* g, float* m, float* v,
                 std::int64_t n, CUstream_st* stream);

/// @brief Binary cross-entropy or focal loss per sample (train_detail::binary_term): for the
/// n logits (stride), targets and optional weights (device, contiguous), loss[i] in double and,
/// when grad is not null, grad[i * grad_stride] = d/dx * inv.
void binary_loss_rows(const train_detail::BinaryLossTerm& term, const float* logits, std::int64_t stride,
                      std::int64_t n, const float* targets, const float* weights, double inv, double* loss,
                      float* grad, std::int64_t grad_stride, CUstream_st* stream);

/// @brief BPR per positive i: loss[i] = sum over its k negatives of softplus(neg - pos) (double),
/// pos_grad[i] = -sum sigmoid(neg - pos) inv, neg_grad[i, j] = sigmoid(neg_ij - pos_i) inv
/// (either gradient skipped when null).
void bpr_rows(const float* pos, std::int64_t pos_stride, const float* neg, std::int64_t ns0, std::int64_t ns1,
              std::int64_t n, std::int64_t k, double inv, double* loss, float* pos_grad, std::int64_t pgs,
              float* neg_grad, std::int64_t gs0, std::int64_t gs1, CUstream_st* stream);

/// @brief Softmax cross-entropy per row of logits [n, c] (ld) against labels (device int64,
/// -1 = ignored): row_loss[i] = logsumexp(x_i) - x_i[y_i] (0 for ignored rows, in double),
/// and, when grad is not null, grad[i, :] = (softmax(x_i) - onehot(y_i)) * inv_count
/// (0 for ignored rows). Labels must already be checked (in [0, c) or -1).
void cross_entropy_rows(const float* logits, std::int64_t ld, std::int64_t n, std::int64_t c,
                        const std::int64_t* labels, double inv_count, double* row_loss,
                        float* grad, std::int64_t ldg, CUstream_st* stream);

}  // namespace gnnkit::kernels::cuda
