// squeeze-test-fixture DIR: writes the small model, byte tokenizer and text that the
// black-box tests use (testutil/fixtures.h) into DIR, for tests written in other languages
// (the dashboard's browser test). Prints the three paths as JSON.
#include <cstdio>
#include <exception>

#include "testutil/fixtures.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: squeeze-test-fixture DIR\n");
    return 2;
  }
  try {
    const squeeze::testing::TinyModelFiles f = squeeze::testing::MakeTinyModelFiles(argv[1]);
    std::printf("{\"model\": \"%s\", \"tokenizer\": \"%s\", \"text\": \"%s\"}\n", f.model.c_str(),
                f.tokenizer.c_str(), f.text.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "squeeze-test-fixture: %s\n", e.what());
    return 1;
  }
  return 0;
}
