// Black-box tests of the `squeeze` CLI as a user runs it: exit codes, error messages that
// name the file, JSON output whose numbers mean what they say.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "testutil/assets.h"

namespace {

struct CmdResult {
  int code;
  std::string out;  // stdout and stderr together
};

CmdResult Squeeze(const std::string& args, bool with_stderr = true) {
  const std::string cmd =
      std::string(SQUEEZE_BIN) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  CmdResult r{-1, ""};
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Only stdout (for JSON).
CmdResult SqueezeStdout(const std::string& args) {
  return Squeeze(args, /*with_stderr=*/false);
}

TEST(CliTest, HelpAndUsageErrors) {
  EXPECT_EQ(Squeeze("--help").code, 0);
  EXPECT_EQ(Squeeze("eval --help").code, 0);
  const CmdResult none = Squeeze("");
  EXPECT_EQ(none.code, 2) << none.out;
  const CmdResult bad = Squeeze("frobnicate");
  EXPECT_EQ(bad.code, 2) << bad.out;
  const CmdResult missing = Squeeze("eval");
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_NE(missing.out.find("--model"), std::string::npos) << missing.out;
}

TEST(CliTest, MissingModelNamesThePath) {
  const CmdResult r =
      Squeeze("eval --model /nonexistent/model.bin --no-latency --text /etc/hostname");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/model.bin"), std::string::npos) << r.out;
}

TEST(CliTest, RandomModelEvalReportsSizeAndLatencyAsJson) {
  const std::string dir = squeeze::testing::TempDir("cli-random");
  const CmdResult made =
      Squeeze("make-model --out " + dir +
              "/m --dim 64 --hidden 96 --layers 2 "
              "--heads 4 --kv-heads 2 --vocab 300 --seq-len 128 --format f16 --untied");
  ASSERT_EQ(made.code, 0) << made.out;
  const CmdResult r = SqueezeStdout("eval --model " + dir +
                                    "/m --json --prompt 16 --generate 8 "
                                    "--repeats 2");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  // 300x64 embedding + 2 layers of (64x64 + 32x64 + 32x64 + 64x64 + 3 x 96x64) in f16, plus
  // 5 norm vectors of 64 in f32; untied classifier 300x64.
  const int64_t matrices = 2 * 300 * 64 + 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 96 * 64);
  EXPECT_EQ(j["size"]["bytes"].get<int64_t>(), 2 * matrices + 4 * 5 * 64);
  EXPECT_EQ(j["size"]["bytes_by_format"]["f16"].get<int64_t>(), 2 * matrices);
  EXPECT_GT(j["latency"]["decode_ms_per_token"]["median"].get<double>(), 0);
  EXPECT_EQ(j["latency"]["kv_bytes_per_token"].get<int64_t>(), 2 * 2 * 32 * 4);
}

TEST(CliTest, Stories260KAgainstItselfHasZeroKldAndFullAgreement) {
  SQUEEZE_REQUIRE_ASSET(model, "models/stories260K/stories260K.bin");
  SQUEEZE_REQUIRE_ASSET(text, "text/tinystories-valid-100.noeot.txt");
  const std::string cache = squeeze::testing::TempDir("cli-cache");
  const std::string args = "eval --model " + model + " --baseline " + model + " --text " + text +
                           " --max-tokens 3000 --json --no-latency --cache-dir " + cache;
  for (int run = 0; run < 2; ++run) {  // the second run reads the baseline from the cache
    const CmdResult r = SqueezeStdout(args);
    ASSERT_EQ(r.code, 0) << r.out;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    const auto& acc = j["accuracy"];
    EXPECT_EQ(acc["tokens_scored"].get<int>(), 3000);
    EXPECT_EQ(acc["kld"]["mean"].get<double>(), 0.0);
    EXPECT_EQ(acc["kld"]["max"].get<double>(), 0.0);
    EXPECT_EQ(acc["top1_agreement"].get<double>(), 1.0);
    EXPECT_EQ(acc["baseline_from_cache"].get<bool>(), run == 1);
    // A trained model is far better than uniform over 512 tokens.
    EXPECT_LT(acc["perplexity"].get<double>(), 20.0);
    EXPECT_GT(acc["perplexity"].get<double>(), 1.0);
    EXPECT_EQ(j["size"]["params"].get<int64_t>(), 260032);
  }
}

TEST(CliTest, TruncatedAndCorruptedCheckpointsGiveClearErrors) {
  SQUEEZE_REQUIRE_ASSET(model, "models/stories260K/stories260K.bin");
  SQUEEZE_REQUIRE_ASSET(tok, "models/stories260K/tok512.bin");
  SQUEEZE_REQUIRE_ASSET(text, "text/tinystories-valid-100.noeot.txt");
  const std::string dir = squeeze::testing::TempDir("cli-corrupt");
  std::ifstream in(model, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  {
    std::ofstream(dir + "/truncated.bin", std::ios::binary).write(bytes.data(), bytes.size() / 2);
    std::string bad = bytes;
    const int32_t heads = 7;  // dim 64 is not divisible by 7
    std::memcpy(bad.data() + 12, &heads, 4);
    std::ofstream(dir + "/corrupt.bin", std::ios::binary).write(bad.data(), bad.size());
  }
  for (const std::string name : {"truncated.bin", "corrupt.bin"}) {
    const CmdResult r = Squeeze("eval --model " + dir + "/" + name + " --tokenizer " + tok +
                                " --text " + text + " --no-latency");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(dir + "/" + name), std::string::npos)
        << "error must name the file: " << r.out;
    EXPECT_NE(r.out.find("error"), std::string::npos) << r.out;
  }
}

}  // namespace
