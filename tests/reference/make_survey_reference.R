# Reference numbers for weighted (probability-weight) estimation and inference: tests/test_weights*.py.
#
# Run from the repository root:   Rscript tests/reference/make_survey_reference.R
# Reads tests/reference/survey_panel.csv (written by make_survey_panel.py) and writes
# tests/reference/survey_reference.csv (long format: model, cluster, estimator, term_row, term_col,
# value) and tests/reference/survey_reference_versions.txt.  The tests never call R.
#
# Models (w = probability weight of the firm-year):
#   fe_w        lm(y ~ x1 + x2 + d + firm + year, weights = w)      weighted two-way FE by dummies
#   pooled_w    lm(y ~ x1 + x2 + d + year, weights = w)             weighted, year dummies only
#   cloglog_w   glm(event ~ x1 + d + year, quasibinomial(cloglog), weights = w)
#   interval_w  the same with offset(log(interval)): the grouped-duration proportional hazard
#   interval    the same without weights
# Estimators stored per model:
#   coef                      coefficients (year dummies included for the GLMs)
#   vcovCL_HC1 / _HC0_cadjust sandwich::vcovCL, clusters cluster_id (regions) and firm_id
#   vcovCR_CR2, CR2_satterthwaite_df   clubSandwich with the default working model for weighted
#                             lm fits (inverse_var = FALSE: weights are not inverse variances)
#   observed_information      GLMs: minus the Hessian of the weighted log-likelihood (analytic,
#                             checked here against stats::optimHess), the bread Stata's cloglog uses
#   vcovCL_observed_HC1       GLMs: the vcovCL sandwich with that observed-information bread
#   svyglm                    survey::svyglm on svydesign(ids = ~psu, strata = ~stratum,
#                             weights = ~w, nest = TRUE): design-based (linearisation) covariance
#   svyrecvar_observed        GLMs: the same design-based meat (survey::svyrecvar) with the
#                             observed-information bread
suppressPackageStartupMessages({
  library(sandwich)
  library(clubSandwich)
  library(survey)
})

panel <- read.csv("tests/reference/survey_panel.csv", stringsAsFactors = FALSE)
panel$firm_f <- factor(panel$firm_id)
panel$year_f <- factor(panel$year)
panel$cluster_id <- factor(panel$cluster_id)

rows <- list()
put <- function(model, cluster, estimator, term_row, term_col, value) {
  rows[[length(rows) + 1]] <<- data.frame(
    model = model, cluster = cluster, estimator = estimator,
    term_row = term_row, term_col = term_col, value = sprintf("%.17g", value)
  )
}
add <- function(model, cluster, estimator, mat) {
  mat <- as.matrix(mat)
  for (i in rownames(mat)) for (j in colnames(mat)) put(model, cluster, estimator, i, j, mat[i, j])
}
add_vec <- function(model, cluster, estimator, vec) {
  for (i in names(vec)) put(model, cluster, estimator, i, "", vec[[i]])
}

design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = panel, nest = TRUE)

# --- weighted least squares ----------------------------------------------------------------------
lin_terms <- c("x1", "x2", "d")
lin_fits <- list(
  fe_w = lm(y ~ x1 + x2 + d + firm_f + year_f, data = panel, weights = w),
  pooled_w = lm(y ~ x1 + x2 + d + year_f, data = panel, weights = w)
)
lin_formulas <- list(fe_w = y ~ x1 + x2 + d + firm_f + year_f, pooled_w = y ~ x1 + x2 + d + year_f)
for (model in names(lin_fits)) {
  fit <- lin_fits[[model]]
  keep <- lin_terms
  add_vec(model, "", "coef", coef(fit)[keep])
  add_vec(model, "", "nobs", c(n = nobs(fit), p = length(coef(fit))))
  for (cl in c("cluster_id", "firm_id")) {
    cluster <- panel[[cl]]
    add(model, cl, "vcovCL_HC1", vcovCL(fit, cluster = cluster, type = "HC1", cadjust = TRUE)[keep, keep])
    add(model, cl, "vcovCL_HC0_cadjust", vcovCL(fit, cluster = cluster, type = "HC0", cadjust = TRUE)[keep, keep])
    v <- tryCatch(vcovCR(fit, cluster = cluster, type = "CR2"), error = function(e) NULL)
    if (!is.null(v)) {
      stopifnot(identical(attr(v, "inverse_var"), FALSE))
      add(model, cl, "vcovCR_CR2", as.matrix(v)[keep, keep])
      ct <- coef_test(fit, vcov = v, test = "Satterthwaite", coefs = keep)
      add_vec(model, cl, "CR2_satterthwaite_df", setNames(ct$df_Satt, as.character(ct$Coef)))
    }
  }
  sfit <- svyglm(lin_formulas[[model]], design = design)
  stopifnot(max(abs(coef(sfit)[keep] - coef(fit)[keep])) < 1e-10)
  add(model, "psu", "svyglm", vcov(sfit)[keep, keep])
}

# a design in which stratum S0 has a single PSU, its variance centred at the grand mean
# (options(survey.lonely.psu = "adjust")): the default of gvcpanel's inference = "survey"
panel$psu_lonely <- ifelse(panel$stratum == "S0", "P00", panel$psu)
options(survey.lonely.psu = "adjust")
lonely <- svydesign(ids = ~psu_lonely, strata = ~stratum, weights = ~w, data = panel, nest = TRUE)
add("pooled_w", "psu_lonely", "svyglm_adjust",
    vcov(svyglm(y ~ x1 + x2 + d + year_f, design = lonely))[lin_terms, lin_terms])
options(survey.lonely.psu = "fail")

# --- weighted complementary log-log GLMs ---------------------------------------------------------
# Observed information of the binomial cloglog log-likelihood with prior weights w:
#   l_i = w_i [y_i log p_i + (1 - y_i) log(1 - p_i)],  p = 1 - exp(-e), e = exp(eta)
#   d2 l_i / d eta^2 = w_i [ y_i e q (p - e) / p^2 - (1 - y_i) e ],  q = exp(-e)
observed_information <- function(fit) {
  X <- model.matrix(fit)
  eta <- fit$linear.predictors
  y <- fit$y
  w <- fit$prior.weights
  e <- exp(eta)
  p <- -expm1(-e)
  q <- exp(-e)
  d2 <- w * (y * e * q * (p - e) / p^2 - (1 - y) * e)
  crossprod(X, X * (-d2))
}
loglik <- function(beta, X, y, w, offset) {
  eta <- drop(X %*% beta) + offset
  e <- exp(eta)
  sum(w * (y * log(-expm1(-e)) - (1 - y) * e))
}
score <- function(beta, X, y, w, offset) {
  eta <- drop(X %*% beta) + offset
  e <- exp(eta)
  p <- -expm1(-e)
  d1 <- w * (y * e * exp(-e) / p - (1 - y) * e)
  drop(crossprod(X, d1))
}

# IRLS from R's default start runs off for this link: start from the pooled event rate.  Fisher
# scoring converges only linearly for this non-canonical link and glm stops on the relative change
# of the deviance, so each fit is restarted from its estimates until the score is below 1e-10.
start_at <- function(offset) c(log(-log1p(-mean(panel$event))) - mean(offset), rep(0, 6))
fit_cloglog <- function(weighted, offset) {
  wt <- if (weighted) panel$w else NULL
  family <- if (weighted) quasibinomial(link = "cloglog") else binomial(link = "cloglog")
  panel$.offset <- offset
  start <- start_at(offset)
  for (round in 1:20) {
    fit <- suppressWarnings(glm(event ~ x1 + d + year_f, family = family, data = panel, weights = wt,
                                offset = .offset, start = start,
                                control = glm.control(epsilon = 1e-300, maxit = 50)))
    w1 <- if (weighted) panel$w else rep(1, nrow(panel))
    if (max(abs(score(coef(fit), model.matrix(fit), fit$y, w1, offset))) < 1e-10) return(fit)
    start <- coef(fit)
  }
  stop("the cloglog fit did not reach a score below 1e-10")
}

glm_fits <- list(
  cloglog_w = fit_cloglog(TRUE, rep(0, nrow(panel))),
  interval_w = fit_cloglog(TRUE, log(panel$interval)),
  interval = fit_cloglog(FALSE, log(panel$interval))
)
glm_formulas <- list(cloglog_w = event ~ x1 + d + year_f,
                     interval_w = event ~ x1 + d + year_f + offset(log(interval)),
                     interval = NULL)
for (model in names(glm_fits)) {
  fit <- glm_fits[[model]]
  keep <- names(coef(fit))
  add_vec(model, "", "coef", coef(fit))
  add_vec(model, "", "nobs", c(n = nobs(fit), p = length(coef(fit))))
  info <- observed_information(fit)
  X <- model.matrix(fit)
  offset <- if (is.null(fit$offset)) rep(0, nrow(X)) else fit$offset
  numeric_info <- -optimHess(coef(fit), loglik, score, X = X, y = fit$y, w = fit$prior.weights,
                             offset = offset)
  stopifnot(max(abs(numeric_info - info)) < 1e-5 * max(abs(info)))
  add(model, "", "observed_information", info)
  n <- nrow(X)
  k <- ncol(X)
  for (cl in c("cluster_id", "firm_id")) {
    cluster <- panel[[cl]]
    add(model, cl, "vcovCL_HC1", vcovCL(fit, cluster = cluster, type = "HC1", cadjust = TRUE))
    add(model, cl, "vcovCL_HC0_cadjust", vcovCL(fit, cluster = cluster, type = "HC0", cadjust = TRUE))
    # meatCL is scaled by 1/n; the bread passed to sandwich() is n times the inverse information.
    # sandwich's estfun.glm divides the scores of a quasi family by its dispersion estimate
    # (sum of squared weighted working residuals over the sum of working weights), which its own
    # bread multiplies back; with the observed-information bread it is multiplied back here.
    wres <- residuals(fit, "working") * weights(fit, "working")
    disp <- if (fit$family$family %in% c("binomial", "poisson")) 1 else
      sum(wres^2) / sum(weights(fit, "working"))
    v_obs <- sandwich(fit, bread. = solve(info) * n,
                      meat. = meatCL(fit, cluster = cluster, type = "HC1", cadjust = TRUE)) * disp^2
    add(model, cl, "vcovCL_observed_HC1", v_obs)
  }
  if (!is.null(glm_formulas[[model]])) {
    sfit <- svyglm(glm_formulas[[model]], design = design, family = quasibinomial(link = "cloglog"),
                   start = coef(fit), control = glm.control(epsilon = 1e-12, maxit = 100))
    stopifnot(max(abs(coef(sfit) - coef(fit))) < 1e-8)
    add(model, "psu", "svyglm", vcov(sfit))
    # svyglm's own influence functions (weighted scores) with the observed-information bread
    sw <- weights(design, "sampling")
    d1 <- sw / mean(sw) * (fit$y * exp(fit$linear.predictors) * exp(-exp(fit$linear.predictors)) /
                            -expm1(-exp(fit$linear.predictors)) -
                          (1 - fit$y) * exp(fit$linear.predictors))
    infl <- (X * d1) %*% solve(info / mean(sw))
    add(model, "psu", "svyrecvar_observed",
        svyrecvar(infl, design$cluster, design$strata, design$fpc, postStrata = design$postStrata))
  }
}

out <- do.call(rbind, rows)
write.csv(out, "tests/reference/survey_reference.csv", row.names = FALSE, quote = TRUE)
writeLines(c(
  R.version.string,
  paste("sandwich", packageVersion("sandwich")),
  paste("clubSandwich", packageVersion("clubSandwich")),
  paste("survey", packageVersion("survey")),
  "command: Rscript tests/reference/make_survey_reference.R"
), "tests/reference/survey_reference_versions.txt")
