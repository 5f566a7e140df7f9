# Doxygen's input filter (docs/Doxyfile): kbus's headers say what things are in plain //
# comments. A comment line before a declaration becomes ///, one after it on the same line ///<.
s|^\([[:space:]]*\)// |\1/// |
s|^\([[:space:]]*\)//$|\1///|
s|\([;,{]\)\([[:space:]]*\)// |\1\2///< |
# Internals stay out of the reference: detail namespaces and the std specialisations become
# blank lines (so that line numbers hold).
/^namespace detail {$/,/^}  \/\/ namespace detail$/s|.*||
/^template <[^>]*>$/{
  N
  /\nstruct std::/{
    s|.*|\n|
    :spec
    /};$/b
    N
    s|.*|\n|
    b spec
  }
}
