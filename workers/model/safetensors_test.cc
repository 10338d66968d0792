// Tests of the safetensors reader (on hand-made files) and writer (by reading its bytes back).
#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testutil/assets.h"

namespace squeeze {
namespace {

// Writes 8-byte length + header + data, exactly as given (no padding).
std::string MakeFile(const std::string& dir, const std::string& name, const std::string& header,
                     const std::string& data) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xff));
  out << header << data;
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SafetensorsTest, ParsesHandMadeFile) {
  const std::string dir = testing::TempDir("st-hand");
  // a: F32 [2] at [0, 8); b: U8 [3] at [8, 11); scalar I16 [] at [11, 13); empty F16 [0, 4].
  const float a[2] = {1.5f, -2.0f};
  std::string data(reinterpret_cast<const char*>(a), 8);
  data += std::string("\x01\x02\x03", 3);
  data += std::string("\x34\x12", 2);
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]},)"
      R"("s":{"dtype":"I16","shape":[],"data_offsets":[11,13]},)"
      R"("e":{"dtype":"F16","shape":[0,4],"data_offsets":[13,13]}})";
  const std::string path = MakeFile(dir, "x.safetensors", header, data);
  auto f = OpenSafetensors(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->metadata.at("format"), "pt");
  ASSERT_EQ(f->tensors.size(), 4u);
  const uint8_t* base = f->file->data() + 8 + header.size();
  const StTensor& ta = f->tensors.at("a");
  EXPECT_EQ(ta.dtype, StDtype::kF32);
  EXPECT_EQ(ta.shape, std::vector<int64_t>{2});
  EXPECT_EQ(ta.data, base);
  EXPECT_EQ(ta.bytes, 8u);
  float got[2];
  std::memcpy(got, ta.data, 8);
  EXPECT_EQ(got[0], 1.5f);
  EXPECT_EQ(got[1], -2.0f);
  const StTensor& tb = f->tensors.at("b");
  EXPECT_EQ(tb.dtype, StDtype::kU8);
  EXPECT_EQ(tb.data, base + 8);
  EXPECT_EQ(tb.data[2], 3);
  const StTensor& ts = f->tensors.at("s");
  EXPECT_EQ(ts.dtype, StDtype::kI16);
  EXPECT_TRUE(ts.shape.empty());
  EXPECT_EQ(ts.bytes, 2u);
  const StTensor& te = f->tensors.at("e");
  EXPECT_EQ(te.shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(te.bytes, 0u);
}

TEST(SafetensorsTest, OverlappingTensorsAreAllowed) {
  const std::string dir = testing::TempDir("st-overlap");
  const std::string header = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"I16","shape":[1],"data_offsets":[2,4]}})";
  auto f = OpenSafetensors(MakeFile(dir, "o.safetensors", header, "abcd"));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->tensors.at("b").data, f->tensors.at("a").data + 2);
}

TEST(SafetensorsTest, DtypeTable) {
  const std::pair<StDtype, int> sizes[] = {
      {StDtype::kF32, 4}, {StDtype::kF16, 2},  {StDtype::kBF16, 2},   {StDtype::kF64, 8},
      {StDtype::kI64, 8}, {StDtype::kI32, 4},  {StDtype::kI16, 2},    {StDtype::kI8, 1},
      {StDtype::kU8, 1},  {StDtype::kBool, 1}, {StDtype::kF8E4M3, 1}, {StDtype::kF8E5M2, 1}};
  for (auto [d, size] : sizes) EXPECT_EQ(StDtypeSize(d), size) << StDtypeName(d);
  EXPECT_STREQ(StDtypeName(StDtype::kBF16), "BF16");
  EXPECT_STREQ(StDtypeName(StDtype::kF8E4M3), "F8_E4M3");
}

TEST(SafetensorsTest, WriterLayout) {
  const std::string dir = testing::TempDir("st-write");
  const float w[6] = {1, 2, 3, 4, 5, 6};
  const uint16_t h[3] = {0x3c00, 0x4000, 0xc000};
  const std::string path = dir + "/w.safetensors";
  ASSERT_TRUE(WriteSafetensors(path,
                               {{"w", StDtype::kF32, {2, 3}, w, sizeof(w)},
                                {"h", StDtype::kF16, {3}, h, sizeof(h)}},
                               {{"format", "pt"}})
                  .ok());
  const std::string raw = ReadAll(path);
  ASSERT_GE(raw.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(raw[i]);
  EXPECT_EQ(n % 8, 0u) << "header not padded to a multiple of 8";
  ASSERT_EQ(raw.size(), 8 + n + sizeof(w) + sizeof(h));
  const std::string header = raw.substr(8, n);
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));  // padding is trailing spaces
  const nlohmann::json j = nlohmann::json::parse(header);
  EXPECT_EQ(j["__metadata__"]["format"], "pt");
  EXPECT_EQ(j["w"]["dtype"], "F32");
  EXPECT_EQ(j["w"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(j["w"]["data_offsets"], nlohmann::json({0, 24}));
  EXPECT_EQ(j["h"]["data_offsets"], nlohmann::json({24, 30}));
  EXPECT_EQ(std::memcmp(raw.data() + 8 + n, w, sizeof(w)), 0);
  EXPECT_EQ(std::memcmp(raw.data() + 8 + n + 24, h, sizeof(h)), 0);

  auto f = OpenSafetensors(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->tensors.at("h").dtype, StDtype::kF16);
  EXPECT_EQ(f->tensors.at("w").shape, (std::vector<int64_t>{2, 3}));

  // Bytes that do not match the shape, and duplicate names, are refused.
  EXPECT_FALSE(WriteSafetensors(dir + "/bad.safetensors", {{"w", StDtype::kF32, {5}, w, 24}}).ok());
  EXPECT_FALSE(WriteSafetensors(dir + "/dup.safetensors",
                                {{"w", StDtype::kF32, {1}, w, 4}, {"w", StDtype::kF32, {1}, w, 4}})
                   .ok());
}

struct BadCase {
  const char* what;
  std::string header;
  std::string data;
  const char* phrase;
};

TEST(SafetensorsTest, ValidationErrors) {
  const std::string dir = testing::TempDir("st-bad");
  const BadCase cases[] = {
      {"bad json", R"({"a": {"dtype": "F32",)", "", "bad JSON in safetensors header"},
      {"not object", R"([1, 2, 3])", "", "header is not a JSON object"},
      {"entry not object", R"({"a": 5})", "", "tensor a: header entry is not an object"},
      {"unknown dtype", R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", "x",
       "tensor a: unknown dtype \"Q4\""},
      {"no dtype", R"({"a":{"shape":[1],"data_offsets":[0,4]}})", "xxxx", "dtype"},
      {"negative shape", R"({"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", "x",
       "tensor a: shape [-1] is not a list of non-negative integers"},
      {"float shape", R"({"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", "x",
       "not a list of non-negative integers"},
      {"shape not list", R"({"a":{"dtype":"U8","shape":3,"data_offsets":[0,3]}})", "xxx",
       "missing shape"},
      {"overflow", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})",
       "xxxx", "too many"},
      {"byte overflow",
       R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}})", "xxxx",
       "too many bytes"},
      {"begin after end", R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[3,2]}})", "xxxx",
       "data_offsets [3, 2] has begin after end"},
      {"past end", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "xxxxxxxx",
       "tensor a: data_offsets [0, 16] run past the end of the data (8 bytes)"},
      {"size mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "xxxxxxxx",
       "hold 8 bytes, but shape [3] of F32 needs 12"},
      {"offsets length", R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", "x",
       "data_offsets must be a list [begin, end]"},
      {"negative offset", R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})", "x",
       "data_offsets must be a list"},
      {"metadata not strings", R"({"__metadata__":{"n":1}})", "",
       "__metadata__ value of n is not a string"},
  };
  int i = 0;
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string path =
        MakeFile(dir, "bad" + std::to_string(i++) + ".safetensors", c.header, c.data);
    auto f = OpenSafetensors(path);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status();
    EXPECT_NE(f.status().message().find(c.phrase), std::string::npos)
        << f.status() << "\nexpected: " << c.phrase;
  }
}

TEST(SafetensorsTest, LengthErrors) {
  const std::string dir = testing::TempDir("st-len");
  auto expect = [&](const std::string& name, const std::string& bytes, const std::string& phrase) {
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    auto f = OpenSafetensors(path);
    ASSERT_FALSE(f.ok()) << name;
    EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status();
    EXPECT_NE(f.status().message().find(phrase), std::string::npos) << f.status();
  };
  expect("empty.safetensors", "", "0 bytes, shorter than the 8-byte header length");
  expect("short.safetensors", "abc", "3 bytes, shorter than the 8-byte header length");
  expect("past.safetensors", std::string("\x10\0\0\0\0\0\0\0{}", 10),
         "header length 16 runs past the end of the file (10 bytes)");
  expect("huge.safetensors", std::string("\xff\xff\xff\xff\xff\xff\xff\xff{}", 10),
         "is absurdly large");
  expect("big.safetensors", std::string("\x00\x00\x00\x40\0\0\0\0{}", 10), "is absurdly large");
  auto missing = OpenSafetensors(dir + "/none.safetensors");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace squeeze
