#pragma once
/// @file
/// Checkpoints: a model's parameters, optionally an optimiser's state, and string metadata in
/// one binary file (format: docs/checkpoint_format.md). Writes are atomic (temporary file in
/// the same directory, fsync, rename), so a crash or error never leaves a half-written
/// checkpoint in place of a good one. Loads check everything (checksum, names, shapes)
/// before changing anything. (compiled target)

#include <cstdint>
#include <map>
#include <string>

#include "gnnkit/nn/parameter.hpp"
#include "gnnkit/train/optimizer.hpp"

namespace gnnkit {

/// @brief Version of the checkpoint format this build writes (and the newest it reads).
inline constexpr std::uint32_t kCheckpointVersion = 1;

/// @brief Writes params (names, dtypes, shapes, values), the optimiser's state when given,
/// and metadata to `path`, atomically: an existing file at `path` is replaced only once the
/// new one is complete and synced, and survives any failure.
/// @param path destination file; its directory must exist and be writable
/// @param params the model's parameters (CPU, contiguous)
/// @param optimizer optional: its kind (name()) and state() are stored too
/// @param metadata free-form strings (epoch, config, metrics, ...)
/// @throws IoError (create/write/fsync/rename failed: names the path and the OS error),
///         NotCompiled (a CUDA parameter), InvalidArgument (a non-contiguous parameter)
void save_checkpoint(const std::string& path, const ParameterList& params,
                     const Optimizer* optimizer = nullptr,
                     const std::map<std::string, std::string>& metadata = {});

/// @brief Loads a checkpoint written by save_checkpoint into params (and optimizer): every
/// parameter of the list must be in the file with the same dtype and shape, and the file
/// must hold no other parameter. Nothing is modified unless everything checks out.
/// @param path the checkpoint file
/// @param params the model's parameters, overwritten in place
/// @param optimizer optional: restored from the file's optimiser state, which must exist and
///        be of the same kind (name()); without it, any stored state is ignored
/// @returns the metadata stored with the checkpoint
/// @throws IoError (cannot open or map the file), FormatError (not a checkpoint, newer
///         version, truncated, checksum mismatch, malformed record: names the file and the
///         problem), InvalidArgument (a parameter missing from the file or unknown to the
///         model, a dtype mismatch, no or other optimiser state), ShapeMismatch (a parameter's
///         shape differs: names it and both shapes), NotCompiled (a CUDA parameter)
std::map<std::string, std::string> load_checkpoint(const std::string& path, ParameterList& params,
                                                   Optimizer* optimizer = nullptr);

}  // namespace gnnkit
