// A seeded generator of simple stories. A story picks a cast (a child, a friend, an animal,
// an object, places) and walks one of a few arcs; every step picks one of several sentence
// templates whose slots ({name}, {he}, {animal}, ...) are filled from the cast, so that names
// and things come back later in the story (something a model can learn to copy).
#include "train/story_corpus.h"

#include <string_view>
#include <vector>

#include "util/rng.h"

namespace squeeze {
namespace {

struct Person {
  const char* name;
  bool girl;
};

constexpr Person kPeople[] = {
    {"Lily", true},  {"Tom", false}, {"Mia", true},   {"Ben", false}, {"Anna", true},
    {"Max", false},  {"Lucy", true}, {"Sam", false},  {"Emma", true}, {"Jack", false},
    {"Zoe", true},   {"Leo", false}, {"Sara", true},  {"Tim", false}, {"Amy", true},
    {"Joe", false},  {"Ella", true}, {"Finn", false}, {"Rose", true}, {"Dan", false},
    {"Kim", true},   {"Bob", false}, {"Ivy", true},   {"Ned", false}, {"Nina", true},
    {"Alex", false}, {"Eva", true},  {"Luke", false}, {"Jane", true}, {"Ray", false},
};

constexpr const char* kAnimals[] = {"dog", "cat",   "bird", "bunny", "frog",  "bear",
                                    "fox", "duck",  "fish", "mouse", "puppy", "kitten",
                                    "owl", "horse", "cow",  "pig",   "sheep", "turtle",
                                    "bee", "lion",  "goat", "deer",  "snail", "squirrel"};
constexpr const char* kObjects[] = {
    "ball", "kite", "box",  "hat",   "book", "boat",  "cake",   "flower", "car",  "doll",
    "drum", "cup",  "shoe", "sock",  "bell", "star",  "shell",  "stone",  "key",  "map",
    "toy",  "coat", "bag",  "spoon", "lamp", "clock", "basket", "rope",   "leaf", "feather"};
constexpr const char* kAdjectives[] = {"big",   "little", "red",   "blue",  "shiny", "soft",
                                       "old",   "new",    "happy", "funny", "green", "yellow",
                                       "small", "pretty", "brave", "kind",  "tall",  "fast",
                                       "quiet", "bright", "warm",  "pink",  "round", "tiny"};
constexpr const char* kPlaces[] = {"park", "garden", "forest", "beach",  "yard",  "lake",
                                   "farm", "school", "house",  "hill",   "river", "field",
                                   "shop", "street", "pond",   "meadow", "barn",  "woods"};
constexpr const char* kActivities[] = {"play outside",       "run and jump",   "sing songs",
                                       "draw pictures",      "read books",     "ride a bike",
                                       "build with blocks",  "play with toys", "dance in the sun",
                                       "look at the sky",    "help mom",       "climb trees",
                                       "swim in the lake",   "pick flowers",   "bake cookies",
                                       "play hide and seek", "fly a kite",     "splash in puddles"};
constexpr const char* kFeelings[] = {"happy", "sad", "scared", "excited", "tired", "surprised"};
constexpr const char* kFoods[] = {"apples", "cookies", "bread", "soup",   "carrots",
                                  "cake",   "berries", "pie",   "cheese", "honey"};
constexpr const char* kWeather[] = {"sunny", "rainy", "windy", "snowy", "cold", "warm"};

template <class T, size_t N>
const T& Pick(Rng& rng, const T (&arr)[N]) {
  return arr[rng.Below(N)];
}

// The cast of one story: every slot's value.
struct Cast {
  Person hero, friend_;
  const char *animal, *object, *object2, *adj, *adj2, *place, *place2, *activity, *food, *weather,
      *feeling;
};

Cast MakeCast(Rng& rng) {
  Cast c;
  c.hero = Pick(rng, kPeople);
  do c.friend_ = Pick(rng, kPeople);
  while (c.friend_.name == c.hero.name);
  c.animal = Pick(rng, kAnimals);
  c.object = Pick(rng, kObjects);
  do c.object2 = Pick(rng, kObjects);
  while (c.object2 == c.object);
  c.adj = Pick(rng, kAdjectives);
  do c.adj2 = Pick(rng, kAdjectives);
  while (c.adj2 == c.adj);
  c.place = Pick(rng, kPlaces);
  do c.place2 = Pick(rng, kPlaces);
  while (c.place2 == c.place);
  c.activity = Pick(rng, kActivities);
  c.food = Pick(rng, kFoods);
  c.weather = Pick(rng, kWeather);
  c.feeling = Pick(rng, kFeelings);
  return c;
}

std::string_view SlotValue(const Cast& c, std::string_view slot) {
  const bool g = c.hero.girl, fg = c.friend_.girl;
  if (slot == "name") return c.hero.name;
  if (slot == "friend") return c.friend_.name;
  if (slot == "he") return g ? "she" : "he";
  if (slot == "He") return g ? "She" : "He";
  if (slot == "his") return g ? "her" : "his";
  if (slot == "His") return g ? "Her" : "His";
  if (slot == "him") return g ? "her" : "him";
  if (slot == "kid") return g ? "girl" : "boy";
  if (slot == "fhe") return fg ? "she" : "he";
  if (slot == "fhis") return fg ? "her" : "his";
  if (slot == "fkid") return fg ? "girl" : "boy";
  if (slot == "animal") return c.animal;
  if (slot == "object") return c.object;
  if (slot == "object2") return c.object2;
  if (slot == "adj") return c.adj;
  if (slot == "adj2") return c.adj2;
  if (slot == "place") return c.place;
  if (slot == "place2") return c.place2;
  if (slot == "activity") return c.activity;
  if (slot == "food") return c.food;
  if (slot == "weather") return c.weather;
  if (slot == "feeling") return c.feeling;
  return slot;  // not a slot: kept as written
}

// Appends a template with its {slots} filled.
void Fill(const Cast& c, std::string_view tmpl, std::string* out) {
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl[i] == '{') {
      const size_t end = tmpl.find('}', i);
      out->append(SlotValue(c, tmpl.substr(i + 1, end - i - 1)));
      i = end + 1;
    } else {
      out->push_back(tmpl[i++]);
    }
  }
}

using Step = std::vector<const char*>;  // alternatives for one sentence of an arc

// clang-format off
const Step kOpening = {
    "Once upon a time, there was a {adj} {kid} named {name}.",
    "Once upon a time, in a {adj} town, there lived a {kid} named {name}.",
    "One day, a {adj} {kid} named {name} went to the {place}.",
    "There once was a {kid} called {name} who lived near the {place}.",
    "{name} was a {adj} {kid} who lived in a little house by the {place}."};
const Step kLikes = {
    "{He} loved to {activity}.",
    "Every day, {he} liked to {activity} with {his} friend {friend}.",
    "{He} had a {adj2} {object} that {he} loved very much.",
    "{His} favorite thing was to {activity} at the {place}.",
    "{He} liked to eat {food} and {activity}."};
const Step kDay = {
    "One {weather} day, {name} went to the {place} with {friend}.",
    "One morning, {name} and {friend} walked to the {place}.",
    "It was a {weather} day, so {name} went out to the {place}.",
    "After lunch, {name} took {his} {object} to the {place}."};
// Arc A: an animal loses something; the children find it.
const Step kMeetAnimal = {
    "At the {place}, {he} saw a {adj2} {animal} sitting under a tree.",
    "There, {he} met a little {animal} who looked very {feeling}.",
    "Near the {place}, a {animal} came up to {him}."};
const Step kAnimalProblem = {
    "The {animal} was sad because it had lost its {object}.",
    "\"Why are you sad?\" asked {name}. \"I lost my {object},\" said the {animal}.",
    "The {animal} said, \"I cannot find my {object}. Can you help me?\""};
const Step kHelp = {
    "{name} said, \"Don't be sad, little {animal}. I will help you find it!\"",
    "\"We can help you,\" said {friend}. \"Let's look for it together.\"",
    "{name} wanted to help the {animal}, so {he} looked all around the {place}."};
const Step kSearch = {
    "They looked under the rocks and behind the trees.",
    "They looked in the grass, near the {place2} and under a big bush.",
    "{name} and {friend} searched everywhere, but they could not find the {object}.",
    "They walked and looked for a long time."};
const Step kFind = {
    "At last, {name} saw something {adj} near the {place2}. It was the {object}!",
    "Then {friend} shouted, \"Look! The {object} is in the tree!\"",
    "Finally, {he} found the {object} under a pile of leaves."};
const Step kHappyAnimal = {
    "The {animal} was so happy. \"Thank you, {name}!\" it said.",
    "The {animal} smiled and gave {name} a big hug.",
    "The {animal} jumped up and down with joy."};
// Arc B: the child wants something, tries, fails, and learns.
const Step kWant = {
    "{name} saw a {adj2} {object2} in the window of the shop. {He} wanted it very much.",
    "{name} wanted to {activity}, but {he} was too small.",
    "{name} wanted to play with {friend}'s {object2}, but {friend} said no."};
const Step kTry = {
    "{He} tried and tried, but it was very hard.",
    "{name} felt {feeling}. {He} did not know what to do.",
    "{He} asked {his} mom, \"What can I do?\""};
const Step kAdvice = {
    "{His} mom smiled and said, \"If you are patient and kind, good things will come.\"",
    "{His} mom said, \"You can share, and then you can both play.\"",
    "{friend} said, \"Let's do it together. It is more fun with a friend.\""};
const Step kSolve = {
    "So {name} and {friend} played together with the {object2}.",
    "{name} shared {his} {object} with {friend}, and {friend} shared the {object2}.",
    "{name} tried one more time, and this time {he} did it!"};
// Arc C: a mess or an accident at home.
const Step kAccident = {
    "{name} was playing with {his} {object} in the house when it broke.",
    "{name} ran too fast and the {object} fell into the {place2}.",
    "{name} spilled the {food} all over the floor."};
const Step kWorry = {
    "{He} was scared that {his} mom would be mad.",
    "{name} felt very {feeling} and started to cry.",
    "{He} did not want anyone to see the mess."};
const Step kTruth = {
    "But {name} told {his} mom the truth. \"I am sorry,\" {he} said.",
    "{name} went to {his} mom and said, \"Mom, I made a mess. I am sorry.\"",
    "{His} mom saw {him} and asked, \"What happened?\" {name} told her everything."};
const Step kForgive = {
    "Mom hugged {him} and said, \"Thank you for telling me. We can fix it together.\"",
    "{His} mom was not mad. She helped {him} clean up, and they laughed.",
    "Mom smiled. \"Accidents happen,\" she said. \"I am proud of you for being honest.\""};
const Step kEnding = {
    "From that day on, {name} and the {animal} were best friends.",
    "They played together until the sun went down.",
    "{name} went home and told {his} mom all about {his} day.",
    "That night, {name} went to bed with a big smile.",
    "{name} learned that it is good to help others.",
    "{name} learned that sharing makes everyone happy.",
    "{name} learned that it is always best to tell the truth.",
    "And they all lived happily ever after."};
// clang-format on

void Sentence(Rng& rng, const Cast& c, const Step& step, std::string* out) {
  if (!out->empty() && out->back() != '\n') out->push_back(' ');
  Fill(c, step[rng.Below(step.size())], out);
}

void Story(Rng& rng, std::string* out) {
  const Cast c = MakeCast(rng);
  Sentence(rng, c, kOpening, out);
  Sentence(rng, c, kLikes, out);
  if (rng.Below(2)) Sentence(rng, c, kLikes, out);
  Sentence(rng, c, kDay, out);
  switch (rng.Below(3)) {
    case 0:
      for (const Step* s : {&kMeetAnimal, &kAnimalProblem, &kHelp, &kSearch}) {
        Sentence(rng, c, *s, out);
      }
      if (rng.Below(2)) Sentence(rng, c, kSearch, out);
      Sentence(rng, c, kFind, out);
      Sentence(rng, c, kHappyAnimal, out);
      break;
    case 1:
      for (const Step* s : {&kWant, &kTry, &kAdvice, &kSolve}) Sentence(rng, c, *s, out);
      break;
    default:
      for (const Step* s : {&kAccident, &kWorry, &kTruth, &kForgive}) Sentence(rng, c, *s, out);
      break;
  }
  Sentence(rng, c, kEnding, out);
  if (rng.Below(2)) Sentence(rng, c, kEnding, out);
  out->append("\n\n");
}

}  // namespace

std::string GenerateStories(uint64_t seed, int64_t min_bytes) {
  Rng rng(seed);
  std::string out;
  out.reserve(size_t(min_bytes) + 2048);
  while (int64_t(out.size()) < min_bytes) {
    std::string story;
    Story(rng, &story);
    out += story;
  }
  return out;
}

StoryCorpus MakeStoryCorpus(const StoryCorpusOptions& opts) {
  StoryCorpus c;
  c.train = GenerateStories(opts.seed, opts.train_bytes);
  c.valid = GenerateStories(opts.seed ^ 0x5eed5eed5eed5eedull, opts.valid_bytes);
  return c;
}

}  // namespace squeeze
