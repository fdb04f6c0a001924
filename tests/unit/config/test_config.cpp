#include <gtest/gtest.h>

#include "physfit/config/ini.hpp"
#include "physfit/config/options.hpp"
#include "physfit/error.hpp"

using namespace physfit;

namespace {

config::Options sample_options() {
  config::Options opts("physfit demo");
  opts.add<std::string>("config", "configuration file").command_line_only();
  opts.positional("config");
  opts.add<long long>("rows", "rows").default_value(100LL).check(config::positive<long long>());
  opts.add<double>("train.learning-rate", "step").default_value(0.001);
  opts.add<int>("train.epochs", "epochs").default_value(5);
  opts.add<std::string>("train.optimizer", "optimiser")
      .default_value(std::string("adam"))
      .check(config::one_of({"sgd", "adam"}));
  opts.add<std::vector<int>>("model.layers", "widths").default_value(std::vector<int>{512, 10});
  opts.add_flag("verbose", "say more");
  opts.add<std::string>("data.train", "training data").required();
  return opts;
}

std::string message_of_parse(const config::Options& opts, const std::vector<std::string>& args,
                             const config::IniText* ini) {
  try {
    opts.parse(args, ini);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

const char* kIni =
    "# a model\n"
    "rows = 10\n"
    "\n"
    "[train]\n"
    "epochs = 7   # inline comment\n"
    "learning-rate = 0.01\n"
    "[model]\n"
    "layers = 256, 128, 10\n"
    "[data]\n"
    "train = \"fmnist train.h5\"\n";

}  // namespace

TEST(Ini, ParsesSectionsCommentsAndQuotesWithLineNumbers) {
  const auto ini = config::parse_ini(kIni, "model.ini");
  ASSERT_EQ(ini.entries.size(), 5u);
  EXPECT_EQ(ini.entries[0].key, "rows");
  EXPECT_EQ(ini.entries[0].line, 2);
  EXPECT_EQ(ini.entries[1].key, "train.epochs");
  EXPECT_EQ(ini.entries[1].value, "7");
  EXPECT_EQ(ini.entries[1].line, 5);
  EXPECT_EQ(ini.entries[4].key, "data.train");
  EXPECT_EQ(ini.entries[4].value, "fmnist train.h5");
}

TEST(Ini, RejectsMalformedLinesNamingFileAndLine) {
  try {
    config::parse_ini("[train]\nepochs 7\n", "bad.ini");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "bad.ini:2: malformed line 'epochs 7': expected 'key = value' or '[section]'");
  }
  EXPECT_THROW(config::parse_ini("[train\n", "x.ini"), UsageError);
  try {
    config::parse_ini("a = 1\nb = 2\na = 3\n", "dup.ini");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "dup.ini:3: key 'a' is given twice (first on line 1)");
  }
}

TEST(Options, CommandLineOverridesTheFileWhichOverridesDefaults) {
  const auto opts = sample_options();
  const auto ini = config::parse_ini(kIni, "model.ini");
  const auto v = opts.parse({"model.ini", "--train.epochs", "9", "--verbose"}, &ini);
  EXPECT_EQ(v.get<int>("train.epochs"), 9);                  // command line
  EXPECT_EQ(v.get<double>("train.learning-rate"), 0.01);     // file
  EXPECT_EQ(v.get<long long>("rows"), 10);                   // file
  EXPECT_EQ(v.get<std::string>("train.optimizer"), "adam");  // default
  EXPECT_EQ(v.get<std::vector<int>>("model.layers"), (std::vector<int>{256, 128, 10}));
  EXPECT_TRUE(v.get<bool>("verbose"));
  EXPECT_EQ(v.get<std::string>("config"), "model.ini");
  EXPECT_EQ(v.origin("train.epochs").describe(), "command line");
  EXPECT_EQ(v.origin("train.learning-rate").describe(), "model.ini:6");
  EXPECT_EQ(v.origin("train.optimizer").describe(), "default");
}

TEST(Options, RejectsAnUnknownKeyNamingFileLineAndSuggestion) {
  const auto opts = sample_options();
  const auto ini = config::parse_ini("[data]\ntrain = x.h5\n[train]\nepoch = 3\n", "run.ini");
  EXPECT_EQ(message_of_parse(opts, {}, &ini),
            "run.ini:4: unknown key 'train.epoch' (did you mean 'train.epochs'?); see 'physfit "
            "demo --help' for the keys it accepts");
}

TEST(Options, RejectsAnUnknownCommandLineOption) {
  const auto opts = sample_options();
  EXPECT_EQ(message_of_parse(opts, {"--data.train", "x", "--row", "5"}, nullptr),
            "unknown option '--row' for 'physfit demo' (did you mean '--rows'?); see 'physfit "
            "demo --help'");
}

TEST(Options, RejectsBadValuesNamingKeyValueAndPlace) {
  const auto opts = sample_options();
  auto ini = config::parse_ini("[data]\ntrain = x.h5\n[train]\nepochs = many\n", "run.ini");
  EXPECT_EQ(message_of_parse(opts, {}, &ini),
            "run.ini:4: bad value 'many' for train.epochs: expected an integer");
  ini = config::parse_ini("rows = -3\n[data]\ntrain = x\n", "run.ini");
  EXPECT_EQ(message_of_parse(opts, {}, &ini),
            "run.ini:1: bad value '-3' for rows: must be positive");
  EXPECT_EQ(message_of_parse(opts, {"--data.train", "x", "--train.learning-rate", "nan"}, nullptr),
            "command line: bad value 'nan' for train.learning-rate: expected a finite number");
  EXPECT_EQ(message_of_parse(opts, {"--data.train", "x", "--train.optimizer", "lbfgs"}, nullptr),
            "command line: bad value 'lbfgs' for train.optimizer: must be one of: sgd, adam");
  EXPECT_EQ(message_of_parse(opts, {"--data.train", "x", "--model.layers", "512,x"}, nullptr),
            "command line: bad value '512,x' for model.layers: expected an integer in list item "
            "'x'");
  // A bad value in the file is an error even when the command line overrides it.
  ini = config::parse_ini("rows = lots\n[data]\ntrain = x\n", "run.ini");
  EXPECT_EQ(message_of_parse(opts, {"--rows", "5"}, &ini),
            "run.ini:1: bad value 'lots' for rows: expected an integer");
}

TEST(Options, RequiresRequiredOptionsAndRejectsRepeats) {
  const auto opts = sample_options();
  EXPECT_EQ(message_of_parse(opts, {}, nullptr),
            "missing required option 'data.train' for 'physfit demo': give it in the "
            "configuration file or as --data.train; see 'physfit demo --help'");
  EXPECT_EQ(message_of_parse(opts, {"--data.train", "a", "--data.train", "b"}, nullptr),
            "option '--data.train' is given twice on the command line");
  const auto ini = config::parse_ini("config = other.ini\n", "run.ini");
  EXPECT_EQ(message_of_parse(opts, {"--data.train", "a"}, &ini),
            "run.ini:1: key 'config' can only be given on the command line");
  EXPECT_EQ(message_of_parse(opts, {"a.ini", "b.ini", "--data.train", "a"}, nullptr),
            "too many arguments for 'physfit demo'; see 'physfit demo --help'");
}

TEST(Options, WritesTheEffectiveConfigurationAsIniThatReadsBackTheSame) {
  const auto opts = sample_options();
  const auto ini = config::parse_ini(kIni, "model.ini");
  const auto v = opts.parse({"model.ini", "--train.epochs", "9"}, &ini);
  const std::string text = v.effective_ini();
  EXPECT_EQ(text,
            "rows = 10\n"
            "verbose = false\n"
            "\n[train]\n"
            "learning-rate = 0.01\n"
            "epochs = 9\n"
            "optimizer = adam\n"
            "\n[model]\n"
            "layers = 256, 128, 10\n"
            "\n[data]\n"
            "train = fmnist train.h5\n");
  const auto again = opts.parse({}, &(const config::IniText&)config::parse_ini(text, "again"));
  for (const char* key :
       {"rows", "train.learning-rate", "train.epochs", "model.layers", "data.train", "verbose"}) {
    EXPECT_EQ(again.text(key), v.text(key)) << key;
  }
}

TEST(Options, PrintsHelpWithTypesAndDefaults) {
  const std::string help = sample_options().help();
  EXPECT_NE(help.find("--rows <int>"), std::string::npos) << help;
  EXPECT_NE(help.find("(default: 100)"), std::string::npos) << help;
  EXPECT_NE(help.find("(required)"), std::string::npos) << help;
  EXPECT_NE(help.find("--verbose"), std::string::npos) << help;
}

TEST(Options, CanLeaveRequiredOptionsToTheConfigurationFile) {
  const auto opts = sample_options();
  // First pass over the command line alone: data.train may still come from the file.
  const auto first = opts.parse({"run.ini"}, nullptr, false);
  EXPECT_FALSE(first.has("data.train"));
  EXPECT_EQ(first.get<std::string>("config"), "run.ini");
  const auto ini = config::parse_ini("[data]\ntrain = x.h5\n", "run.ini");
  EXPECT_EQ(opts.parse({"run.ini"}, &ini).get<std::string>("data.train"), "x.h5");
}

TEST(Options, PathsInAnIniFileAreRelativeToItsFolderOneByOneInAList) {
  config::Options opts("test");
  opts.add<std::string>("input.file", "one path").path().default_value(std::string());
  opts.add<std::vector<std::string>>("input.models", "paths")
      .path()
      .default_value(std::vector<std::string>{});
  opts.add<std::vector<std::string>>("input.names", "not paths")
      .default_value(std::vector<std::string>{});
  const auto ini = config::parse_ini(
      "[input]\nfile = a.h5\nmodels = m1.h5, sub/m2.h5 ,/abs/m3.h5\nnames = x, y\n",
      "jobs/run.ini");
  const auto v = opts.parse({}, &ini);
  EXPECT_EQ(v.get<std::string>("input.file"), "jobs/a.h5");
  EXPECT_EQ(v.get<std::vector<std::string>>("input.models"),
            (std::vector<std::string>{"jobs/m1.h5", "jobs/sub/m2.h5", "/abs/m3.h5"}));
  EXPECT_EQ(v.get<std::vector<std::string>>("input.names"), (std::vector<std::string>{"x", "y"}));
  // On the command line paths stay relative to the current folder.
  const auto w = opts.parse({"--input.models", "m1.h5,m2.h5"}, &ini);
  EXPECT_EQ(w.get<std::vector<std::string>>("input.models"),
            (std::vector<std::string>{"m1.h5", "m2.h5"}));
}
