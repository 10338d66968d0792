// Result metrics: objective parsing and Pareto fronts on hand-checked sets.
#include "service/sweep/result_metrics.h"

#include <gtest/gtest.h>

namespace squeeze::sweep {
namespace {

v1::ResultRow Row(std::optional<double> kld, std::optional<double> bpw,
                  std::optional<double> top1 = std::nullopt) {
  v1::ResultRow r;
  if (kld) r.mutable_metrics()->set_kld_mean(*kld);
  if (bpw) r.mutable_metrics()->set_bits_per_weight(*bpw);
  if (top1) r.mutable_metrics()->set_top1_agreement(*top1);
  return r;
}

TEST(ResultMetricsTest, ParseObjectivesResolvesNaturalDirectionsAndAliases) {
  auto o = ParseObjectives("kld,top1,decode_ms:max");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->size(), 3u);
  EXPECT_EQ((*o)[0].metric(), "kld_mean");
  EXPECT_EQ((*o)[0].direction(), v1::DIRECTION_MINIMIZE);
  EXPECT_EQ((*o)[1].metric(), "top1_agreement");
  EXPECT_EQ((*o)[1].direction(), v1::DIRECTION_MAXIMIZE);
  EXPECT_EQ((*o)[2].metric(), "decode_ms_per_token");
  EXPECT_EQ((*o)[2].direction(), v1::DIRECTION_MAXIMIZE);  // as asked
  auto unknown = ParseObjectives("kld,speed");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown metric \"speed\""), std::string::npos);
  EXPECT_NE(unknown.status().message().find("perplexity"), std::string::npos);  // lists known
  EXPECT_FALSE(ParseObjectives("kld:up").ok());
  EXPECT_FALSE(ParseObjectives("kld,kld_mean").ok());
  EXPECT_FALSE(ParseObjectives("").ok());
}

TEST(ResultMetricsTest, ParetoFrontKeepsExactlyTheNonDominatedRows) {
  // (kld, bits): 0 (0, 32) keeps the lowest kld; 1 (0.01, 16) and 2 (0.1, 4.5) are on the
  // front; 3 (0.2, 8) is dominated by 2; 4 (0.1, 4.5) ties 2 exactly and stays; 5 lacks bits.
  const std::vector<v1::ResultRow> rows = {Row(0, 32),  Row(0.01, 16), Row(0.1, 4.5),
                                           Row(0.2, 8), Row(0.1, 4.5), Row(0.001, {})};
  const auto objectives = *ParseObjectives("kld_mean,bits_per_weight");
  EXPECT_EQ(ParetoFront(rows, objectives), (std::vector<int>{0, 1, 2, 4}));
  // Maximizing top-1 instead of minimizing kld: higher agreement dominates.
  const std::vector<v1::ResultRow> top = {Row({}, 32, 1.0), Row({}, 16, 0.99), Row({}, 16, 0.95),
                                          Row({}, 4, 0.80)};
  EXPECT_EQ(ParetoFront(top, *ParseObjectives("top1,bits_per_weight")),
            (std::vector<int>{0, 1, 3}));
  // One objective: only the best value(s).
  EXPECT_EQ(ParetoFront(rows, *ParseObjectives("bits_per_weight")), (std::vector<int>{2, 4}));
}

}  // namespace
}  // namespace squeeze::sweep
