#pragma once
// XXH64 (Yann Collet's public algorithm, written from its specification): the checksum of
// graph files. ~10 GB/s per core, so verifying a file costs about as much as reading it.
#include <cstdint>
#include <cstring>

namespace gnnkit::io_detail {

class Xxh64 {
 public:
  explicit Xxh64(std::uint64_t seed = 0) { reset(seed); }

  void reset(std::uint64_t seed = 0) {
    v_[0] = seed + kP1 + kP2;
    v_[1] = seed + kP2;
    v_[2] = seed;
    v_[3] = seed - kP1;
    seed_ = seed;
    total_ = 0;
    buffered_ = 0;
  }

  void update(const void* data, std::size_t len) {
    const auto* p = static_cast<const unsigned char*>(data);
    total_ += len;
    if (buffered_ + len < 32) {
      std::memcpy(buffer_ + buffered_, p, len);
      buffered_ += len;
      return;
    }
    if (buffered_) {
      const std::size_t fill = 32 - buffered_;
      std::memcpy(buffer_ + buffered_, p, fill);
      stripe(buffer_);
      p += fill;
      len -= fill;
      buffered_ = 0;
    }
    while (len >= 32) {
      stripe(p);
      p += 32;
      len -= 32;
    }
    std::memcpy(buffer_, p, len);
    buffered_ = len;
  }

  std::uint64_t digest() const {
    std::uint64_t h;
    if (total_ >= 32) {
      h = rotl(v_[0], 1) + rotl(v_[1], 7) + rotl(v_[2], 12) + rotl(v_[3], 18);
      for (std::uint64_t v : v_) h = (h ^ round(0, v)) * kP1 + kP4;
    } else {
      h = seed_ + kP5;
    }
    h += total_;
    const unsigned char* p = buffer_;
    std::size_t len = buffered_;
    for (; len >= 8; p += 8, len -= 8) h = rotl(h ^ round(0, read64(p)), 27) * kP1 + kP4;
    if (len >= 4) {
      h = rotl(h ^ (std::uint64_t(read32(p)) * kP1), 23) * kP2 + kP3;
      p += 4;
      len -= 4;
    }
    for (; len > 0; ++p, --len) h = rotl(h ^ (std::uint64_t(*p) * kP5), 11) * kP1;
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return h;
  }

  static std::uint64_t hash(const void* data, std::size_t len, std::uint64_t seed = 0) {
    Xxh64 x(seed);
    x.update(data, len);
    return x.digest();
  }

 private:
  static constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full,
                                 kP3 = 0x165667B19E3779F9ull, kP4 = 0x85EBCA77C2B2AE63ull,
                                 kP5 = 0x27D4EB2F165667C5ull;
  static std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
  static std::uint64_t round(std::uint64_t acc, std::uint64_t input) {
    return rotl(acc + input * kP2, 31) * kP1;
  }
  static std::uint64_t read64(const unsigned char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static std::uint32_t read32(const unsigned char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  void stripe(const unsigned char* p) {
    for (int i = 0; i < 4; ++i) v_[i] = round(v_[i], read64(p + 8 * i));
  }

  std::uint64_t v_[4];
  std::uint64_t seed_ = 0, total_ = 0;
  unsigned char buffer_[32];
  std::size_t buffered_ = 0;
};

}  // namespace gnnkit::io_detail
