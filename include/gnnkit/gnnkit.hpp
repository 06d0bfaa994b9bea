#pragma once
/// @file
/// Umbrella header: everything public in gnnkit.

#include "gnnkit/version.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/core/dtype.hpp"
#include "gnnkit/core/device.hpp"
#include "gnnkit/core/tensor_view.hpp"
#include "gnnkit/core/context.hpp"
#include "gnnkit/core/tensor.hpp"
#include "gnnkit/core/dlpack.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/kernels/memory.hpp"
#include "gnnkit/kernels/dense.hpp"
#include "gnnkit/nn/dense.hpp"
