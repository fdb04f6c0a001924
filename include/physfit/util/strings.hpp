#pragma once
/// @file
/// String helpers used across modules.

#include <string>
#include <string_view>
#include <vector>

namespace physfit::util {

/// `text` without leading and trailing white space.
std::string trim(std::string_view text);
/// Splits on `separator`; each piece trimmed; empty pieces kept.
std::vector<std::string> split(std::string_view text, char separator);
/// Joins with `separator`.
std::string join(const std::vector<std::string>& pieces, std::string_view separator);
/// ASCII lower case.
std::string to_lower(std::string_view text);
/// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
/// The candidate closest to `word` if it is close enough to be a likely typo, else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);
/// "12.3 s", "4 min 05 s", "1 h 02 min".
std::string format_duration(double seconds);
/// "512 B", "1.5 KiB", "3.2 MiB", "1.1 GiB".
std::string format_bytes(double bytes);
/// Text from a file, fit to quote in a message: bytes outside printable ASCII as \xNN (a NUL
/// would end the message), at most `max` characters, then "...".
std::string printable(std::string_view text, std::size_t max = 60);

}  // namespace physfit::util
