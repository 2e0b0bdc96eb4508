# Issue 8's example of the CR2 degrees of freedom of conditional effects, as written: Produc by
# census region, state fixed effects only, the effect of log(emp) moderated by unemployment.  The
# issue quotes 4.52 (the smaller Satterthwaite df of the two terms, which gvcpanel used for every
# conditional effect) against 4.40 (clubSandwich::linear_contrast's df of the contrast itself).
#
# Run from the repository root:   Rscript tests/reference/make_issue8_moderation_reference.R
# Writes tests/reference/issue8_moderation_reference.csv (long format: quantity, at, value) and
# tests/reference/issue8_moderation_reference_versions.txt.  Read by tests/test_issue8_examples.py;
# the tests never call R.  The data are tests/reference/produc.csv (make_produc_reference.R).
suppressPackageStartupMessages({
  library(plm)
  library(clubSandwich)
})

data("Produc", package = "plm")
out_dir <- "tests/reference"
fit <- lm(log(gsp) ~ log(emp) * unemp + log(pcap) + log(pc) + factor(state), data = Produc)
V <- vcovCR(fit, cluster = Produc$region, type = "CR2")
b <- coef(fit)
focal <- "log(emp)"
interaction <- "log(emp):unemp"
rows <- list()
add <- function(quantity, at, value) {
  rows[[length(rows) + 1]] <<- data.frame(quantity = quantity, at = at, value = sprintf("%.17g", value))
}
single <- coef_test(fit, vcov = V, test = "Satterthwaite", coefs = c(focal, interaction))
add("df_term", "focal", single$df_Satt[1])
add("df_term", "interaction", single$df_Satt[2])
# the quartiles of unemployment (R's type 7, numpy's default)
quartiles <- quantile(Produc$unemp, c(0.25, 0.5, 0.75), names = FALSE)
for (i in seq_along(quartiles)) {
  m <- quartiles[i]
  C <- matrix(0, 1, length(b), dimnames = list(NULL, names(b)))
  C[1, focal] <- 1
  C[1, interaction] <- m
  lc <- linear_contrast(fit, vcov = V, contrasts = C, test = "Satterthwaite", level = 0.95)
  at <- c("p25", "p50", "p75")[i]
  add("moderator", at, m)
  add("estimate", at, lc$Est)
  add("std_error", at, lc$SE)
  add("df", at, lc$df)
  add("ci_low", at, lc$CI_L)
  add("ci_high", at, lc$CI_U)
}
write.csv(do.call(rbind, rows), file.path(out_dir, "issue8_moderation_reference.csv"), row.names = FALSE)
writeLines(
  c(
    R.version.string,
    paste("plm", as.character(packageVersion("plm"))),
    paste("clubSandwich", as.character(packageVersion("clubSandwich"))),
    "command: Rscript tests/reference/make_issue8_moderation_reference.R"
  ),
  file.path(out_dir, "issue8_moderation_reference_versions.txt")
)
