# Reference numbers on Munnell's US state data (plm's `Produc`, 48 states, 1970-1986) for
# tests/test_produc_reference.py.
#
# Run from the repository root:   Rscript tests/reference/make_produc_reference.R
# Writes
#   tests/reference/produc.csv                  the data, so that the Python tests need no R
#   tests/reference/produc_reference.csv        long format: model, quantity, at, value
#   tests/reference/produc_reference_versions.txt
# The tests never call R.
#
# 1. Hausman test of state fixed effects against Swamy-Arora random effects with classical
#    covariances: plm::phtest(within, random), log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp.
# 2. Conditional effects under CR2 with clusters = census region (9 clusters): the dummy-variable
#    regression with state and year dummies, clubSandwich::vcovCR(type = "CR2"), and for each
#    moderator value m the contrast b_focal + m b_focal:unemp by clubSandwich::linear_contrast
#    (Satterthwaite degrees of freedom of that contrast).  Johnson-Neyman boundaries: the m where
#    |estimate| / se equals qt(0.975, df(m)) with df(m) the contrast's own Satterthwaite degrees
#    of freedom, found by uniroot on a bracket located on a grid.
suppressPackageStartupMessages({
  library(plm)
  library(clubSandwich)
})

data("Produc", package = "plm")
out_dir <- "tests/reference"
keep <- c("state", "year", "region", "pcap", "pc", "gsp", "emp", "unemp")
write.csv(Produc[, keep], file.path(out_dir, "produc.csv"), row.names = FALSE)

rows <- list()
add <- function(model, quantity, at, value) {
  for (i in seq_along(value)) {
    rows[[length(rows) + 1]] <<- data.frame(
      model = model, quantity = quantity, at = if (length(at) == 1) at else at[i],
      value = sprintf("%.17g", value[[i]])
    )
  }
}

# --- 1. Hausman ---------------------------------------------------------------------------------
form <- log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp
fe <- plm(form, data = Produc, index = c("state", "year"), model = "within")
re <- plm(form, data = Produc, index = c("state", "year"), model = "random", random.method = "swar")
ph <- phtest(fe, re)
terms <- names(coef(fe))
add("hausman", "statistic", "", unname(ph$statistic))
add("hausman", "df", "", unname(ph$parameter))
add("hausman", "pvalue", "", ph$p.value)
add("hausman", "coef_fe", terms, coef(fe)[terms])
add("hausman", "coef_re", terms, coef(re)[terms])
add("hausman", "se_fe", terms, sqrt(diag(vcov(fe)))[terms])
add("hausman", "se_re", terms, sqrt(diag(vcov(re)))[terms])
dvcov <- vcov(fe)[terms, terms] - vcov(re)[terms, terms]
add("hausman", "eigenvalue", as.character(1:4), eigen(dvcov, symmetric = TRUE)$values)

# --- 2. conditional effects under CR2 -----------------------------------------------------------
at_values <- c(3, 5, 7, 9, 11, 14)
moderation <- function(model, fit, focal, interaction) {
  V <- vcovCR(fit, cluster = Produc$region, type = "CR2")
  b <- coef(fit)
  single <- coef_test(fit, vcov = V, test = "Satterthwaite", coefs = c(focal, interaction))
  add(model, "df_term", c("focal", "interaction"), single$df_Satt)
  add(model, "se_term", c("focal", "interaction"), single$SE)
  contrast <- function(m) {
    C <- matrix(0, 1, length(b), dimnames = list(NULL, names(b)))
    C[1, focal] <- 1
    C[1, interaction] <- m
    linear_contrast(fit, vcov = V, contrasts = C, test = "Satterthwaite", level = 0.95)
  }
  for (m in at_values) {
    lc <- contrast(m)
    at <- format(m)
    add(model, "estimate", at, lc$Est)
    add(model, "std_error", at, lc$SE)
    add(model, "df", at, lc$df)
    add(model, "ci_low", at, lc$CI_L)
    add(model, "ci_high", at, lc$CI_U)
    add(model, "p_value", at, 2 * pt(-abs(lc$Est / lc$SE), lc$df))
  }
  # Johnson-Neyman: sign changes of |t(m)| - qt(0.975, df(m)) on a grid, then uniroot
  excess <- function(m) {
    lc <- contrast(m)
    abs(lc$Est / lc$SE) - qt(0.975, lc$df)
  }
  grid <- seq(-300, 300, by = 1)
  values <- vapply(grid, excess, numeric(1))
  change <- which(diff(sign(values)) != 0)
  bounds <- vapply(change, function(i) uniroot(excess, grid[c(i, i + 1)], tol = 1e-12)$root, numeric(1))
  add(model, "jn_boundary", as.character(seq_along(bounds)), bounds)
  add(model, "jn_df", as.character(seq_along(bounds)), vapply(bounds, function(m) contrast(m)$df, numeric(1)))
}

# A: effect of private capital across unemployment; significance starts inside the observed range
fit_a <- lm(log(gsp) ~ log(pc) * unemp + log(pcap) + log(emp) + factor(state) + factor(year), data = Produc)
moderation("pc_by_unemp", fit_a, "log(pc)", "log(pc):unemp")
# B: effect of employment; each contrast's df (about 4.45) is below both terms' (4.50 and 5.83)
fit_b <- lm(log(gsp) ~ log(emp) * unemp + log(pcap) + log(pc) + factor(state) + factor(year), data = Produc)
moderation("emp_by_unemp", fit_b, "log(emp)", "log(emp):unemp")

write.csv(do.call(rbind, rows), file.path(out_dir, "produc_reference.csv"), row.names = FALSE)
writeLines(
  c(
    R.version.string,
    paste("plm", as.character(packageVersion("plm"))),
    paste("clubSandwich", as.character(packageVersion("clubSandwich"))),
    paste("sandwich", as.character(packageVersion("sandwich"))),
    "command: Rscript tests/reference/make_produc_reference.R"
  ),
  file.path(out_dir, "produc_reference_versions.txt")
)
