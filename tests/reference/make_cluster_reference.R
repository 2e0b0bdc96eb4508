# Reference cluster-robust covariances for tests/test_covariance.py.
#
# Run from the repository root:   Rscript tests/reference/make_cluster_reference.R
# Reads tests/reference/cluster_panel.csv (written by make_cluster_panel.py) and writes
# tests/reference/cluster_reference.csv (long format: model, cluster, estimator, term_row,
# term_col, value) and tests/reference/cluster_reference_versions.txt.  The tests never call R.
suppressPackageStartupMessages({
  library(sandwich)
  library(clubSandwich)
  library(plm)
})

panel <- read.csv("tests/reference/cluster_panel.csv", stringsAsFactors = FALSE)
panel$firm_id <- factor(panel$firm_id)
panel$year_f <- factor(panel$year)
panel$cluster_id <- factor(panel$cluster_id)

terms <- c("x1", "x2", "d", "x1:d")
rows <- list()
add <- function(model, cluster, estimator, mat) {
  mat <- as.matrix(mat)
  for (i in rownames(mat)) for (j in colnames(mat)) {
    rows[[length(rows) + 1]] <<- data.frame(
      model = model, cluster = cluster, estimator = estimator,
      term_row = i, term_col = j, value = sprintf("%.17g", mat[i, j])
    )
  }
}
add_vec <- function(model, cluster, estimator, vec) {
  for (i in names(vec)) {
    rows[[length(rows) + 1]] <<- data.frame(
      model = model, cluster = cluster, estimator = estimator,
      term_row = i, term_col = "", value = sprintf("%.17g", vec[[i]])
    )
  }
}

fits <- list(
  # two-way: firm and year dummies
  twoway = lm(y ~ x1 * d + x2 + firm_id + year_f, data = panel),
  # one-way: firm dummies only
  oneway = lm(y ~ x1 * d + x2 + firm_id, data = panel),
  # no firm effects: year dummies and an intercept (CR3 exists here)
  pooled = lm(y ~ x1 * d + x2 + year_f, data = panel)
)
for (model in names(fits)) {
  fit <- fits[[model]]
  keep <- c(terms, grep("^year_f", names(coef(fit)), value = TRUE))
  add_vec(model, "", "coef", coef(fit)[keep])
  add_vec(model, "", "nobs", c(n = nobs(fit), p = length(coef(fit))))
  for (cl in c("cluster_id", "firm_id")) {
    cluster <- panel[[cl]]
    # HC1 inside vcovCL: G/(G-1) * (N-1)/(N-p), p = every lm coefficient (dummies included)
    add(model, cl, "vcovCL_HC1", vcovCL(fit, cluster = cluster, type = "HC1", cadjust = TRUE)[keep, keep])
    # HC0 with G/(G-1) and no (N-1)/(N-K): the tests multiply in each preset's own factor
    add(model, cl, "vcovCL_HC0_cadjust", vcovCL(fit, cluster = cluster, type = "HC0", cadjust = TRUE)[keep, keep])
    for (type in c("CR2", "CR3")) {
      # with dummies of effects nested in the clusters I - H_gg is singular and clubSandwich's
      # CR3 stops ("system is computationally singular"): such entries are left out
      v <- tryCatch(vcovCR(fit, cluster = cluster, type = type), error = function(e) NULL)
      if (!is.null(v)) add(model, cl, paste0("vcovCR_", type), as.matrix(v)[keep, keep])
    }
    ct <- coef_test(fit, vcov = "CR2", cluster = cluster, test = "Satterthwaite", coefs = keep)
    add_vec(model, cl, "CR2_satterthwaite_df", setNames(ct$df_Satt, as.character(ct$Coef)))
  }
}

# plm within estimators (firm effects, and firm plus year effects) with clubSandwich
pdata <- pdata.frame(panel, index = c("firm_id", "year"))
for (effect in c("individual", "twoways")) {
  fit <- plm(y ~ x1 * d + x2, data = pdata, model = "within", effect = effect)
  model <- paste0("plm_", effect)
  for (type in c("CR2", "CR3")) {
    v <- tryCatch(vcovCR(fit, cluster = panel$cluster_id, type = type), error = function(e) NULL)
    if (!is.null(v)) add(model, "cluster_id", paste0("vcovCR_", type), as.matrix(v)[terms, terms])
  }
  ct <- coef_test(fit, vcov = "CR2", cluster = panel$cluster_id, test = "Satterthwaite")
  add_vec(model, "cluster_id", "CR2_satterthwaite_df", setNames(ct$df_Satt, as.character(ct$Coef)))
}

out <- do.call(rbind, rows)
write.csv(out, "tests/reference/cluster_reference.csv", row.names = FALSE, quote = TRUE)
writeLines(c(
  R.version.string,
  paste("sandwich", packageVersion("sandwich")),
  paste("clubSandwich", packageVersion("clubSandwich")),
  paste("plm", packageVersion("plm")),
  "command: Rscript tests/reference/make_cluster_reference.R"
), "tests/reference/cluster_reference_versions.txt")
