# Reference multinomial-logit transition models for tests/test_transition.py.
#
# Run from the repository root:   Rscript tests/reference/make_transition_reference.R
# Reads tests/reference/transition_panel.csv (written by make_transition_panel.py) and writes
#   tests/reference/transition_reference.csv        estimates and standard errors (long format)
#   tests/reference/transition_probabilities.csv    transition probabilities with delta-method s.e.
#   tests/reference/transition_counts.csv           counts of consecutive-period pairs and exclusions
#   tests/reference/transition_reference_versions.txt
# The tests never call R.
#
# What is computed here, independently of gvcpanel:
# - pairs (t, t+1) of the same unit by merging the panel with itself shifted by one period, the
#   2861 pairs tabulated with table(), and each panel row's reason for not being an origin;
# - nnet::multinom fits (BFGS, run to a relative tolerance of 1e-16 so that the estimates are
#   accurate far below the 1e-6 the tests ask for; the gradient at the optimum is printed):
#     common slopes:  multinom(next ~ origin + x1 + x2), base destination "a";
#     by origin:      for each origin r, multinom(next ~ x1 + x2) on the pairs from r with the
#                     outcome relevelled so that staying in r is the base;
# - model-based standard errors from vcov() (nnet's Hessian);
# - the CRV1 cluster sandwich computed by hand from multinom's estimates, since sandwich::vcovCL
#   has no method for multinom objects: scores s_i = (1[y_i = j] - p_ij) x_i for the non-base
#   categories j, bread = vcov(fit), meat = sum over clusters of the outer products of the cluster
#   score sums, scaled by G/(G-1) (N-1)/(N-K) (the statsmodels / gvcpanel convention for
#   likelihood models); for the by-origin model the scores of the three fits are stacked into one
#   N x K matrix (zeros outside the row's own origin) and the bread is block-diagonal, so the
#   covariance between origins' estimates is included;
# - probabilities at x1 in {-1, 0, 1} with x2 at its sample mean, delta-method standard errors
#   from numDeriv::jacobian of the probability function (Richardson extrapolation) and the
#   clustered covariance, and intervals on the logit scale with t(G-1) quantiles.
suppressPackageStartupMessages({
  library(nnet)
  library(numDeriv)
})

states <- c("a", "b", "c")
panel <- read.csv("tests/reference/transition_panel.csv", stringsAsFactors = FALSE,
                  na.strings = c("", "NA"))
panel <- panel[order(panel$unit, panel$period), ]

# ---- pairs and exclusions -------------------------------------------------------------------
nxt <- panel[, c("unit", "period", "state")]
names(nxt)[3] <- "state_next"
nxt$period <- nxt$period - 1
pairs <- merge(panel, nxt, by = c("unit", "period"))
pairs <- pairs[!is.na(pairs$state) & !is.na(pairs$state_next), ]
counts <- table(factor(pairs$state, levels = states), factor(pairs$state_next, levels = states))

reason <- character(nrow(panel))
for (i in seq_len(nrow(panel))) {
  later <- panel$unit == panel$unit[i] & panel$period > panel$period[i]
  if (is.na(panel$state[i])) {
    reason[i] <- "state missing in t"
  } else if (!any(later)) {
    reason[i] <- "last observed period of the unit (no next period)"
  } else if (min(panel$period[later]) != panel$period[i] + 1) {
    reason[i] <- "next period not observed (gap)"
  } else if (is.na(panel$state[later & panel$period == panel$period[i] + 1])) {
    reason[i] <- "state missing in the next period"
  } else {
    reason[i] <- "pair"
  }
}
count_rows <- list()
for (o in states) for (d in states) {
  count_rows[[length(count_rows) + 1]] <- data.frame(kind = "count", origin = o, destination = d,
                                                     n = counts[o, d])
}
for (r in sort(unique(reason))) {
  count_rows[[length(count_rows) + 1]] <- data.frame(kind = "reason", origin = r, destination = "",
                                                     n = sum(reason == r))
}
write.csv(do.call(rbind, count_rows), "tests/reference/transition_counts.csv", row.names = FALSE)

# ---- estimation sample ----------------------------------------------------------------------
est <- pairs[complete.cases(pairs[, c("x1", "x2", "cluster")]), ]
est <- est[order(est$unit, est$period), ]
N <- nrow(est)
cluster <- factor(est$cluster)
G <- nlevels(cluster)
cat("pairs:", nrow(pairs), " used:", N, " clusters:", G, "\n")

fit_multinom <- function(formula, data) {
  multinom(formula, data = data, Hess = TRUE, trace = FALSE, maxit = 10000,
           reltol = 1e-16, abstol = 1e-300)
}

# scores n x (J-1)p, category-major (all terms of the first non-base category first)
multinom_scores <- function(fit, X, y_levels) {
  B <- coef(fit)
  if (is.null(dim(B))) B <- matrix(B, nrow = 1)
  eta <- cbind(0, X %*% t(B))
  p <- exp(eta - apply(eta, 1, max))
  p <- p / rowSums(p)
  Y <- outer(y_levels, levels(y_levels), "==") * 1
  resid <- Y - p
  do.call(cbind, lapply(2:ncol(p), function(j) X * resid[, j]))
}

crv1 <- function(bread, scores, cluster, n, k) {
  sums <- rowsum(scores, cluster)
  g <- nrow(sums)
  (g / (g - 1)) * ((n - 1) / (n - k)) * bread %*% crossprod(sums) %*% bread
}

out <- list()
add <- function(model, term, estimate, se_model, se_cluster) {
  out[[length(out) + 1]] <<- data.frame(model = model, term = term,
    estimate = sprintf("%.17g", estimate), se_model = sprintf("%.17g", se_model),
    se_cluster = sprintf("%.17g", se_cluster))
}

# ---- common slopes ----------------------------------------------------------------------------
est$origin <- factor(est$state, levels = states)
est$next_state <- factor(est$state_next, levels = states)
pooled <- fit_multinom(next_state ~ origin + x1 + x2, est)
X <- model.matrix(~ origin + x1 + x2, est)
S <- multinom_scores(pooled, X, est$next_state)
cat("common slopes: max |gradient| at the optimum", max(abs(colSums(S))), "\n")
V <- vcov(pooled)
Vc <- crv1(V, S, cluster, N, ncol(S))
term_of <- c("(Intercept)" = "Intercept", "originb" = "from[b]", "originc" = "from[c]",
             "x1" = "x1", "x2" = "x2")
B <- coef(pooled)
k <- 0
for (j in rownames(B)) for (t in colnames(B)) {
  k <- k + 1
  add("common_slopes", paste0(j, ":", term_of[[t]]), B[j, t], sqrt(V[k, k]), sqrt(Vc[k, k]))
}

# ---- by origin ----------------------------------------------------------------------------------
blocks <- list()
score_blocks <- list()
names_all <- character(0)
for (r in states) {
  rows <- which(est$state == r)
  sub <- est[rows, ]
  sub$next_state <- factor(sub$state_next, levels = c(r, setdiff(states, r)))
  fit <- fit_multinom(next_state ~ x1 + x2, sub)
  Xr <- model.matrix(~ x1 + x2, sub)
  Sr <- multinom_scores(fit, Xr, sub$next_state)
  cat("origin", r, ": max |gradient| at the optimum", max(abs(colSums(Sr))), "\n")
  full <- matrix(0, N, ncol(Sr))
  full[rows, ] <- Sr
  score_blocks[[r]] <- full
  blocks[[r]] <- list(fit = fit, V = vcov(fit))
  Br <- coef(fit)
  for (j in rownames(Br)) for (t in colnames(Br)) {
    names_all <- c(names_all, paste0(r, "->", j, ":", term_of[[t]]))
  }
}
S_all <- do.call(cbind, score_blocks)
bread <- as.matrix(Matrix::bdiag(lapply(blocks, function(b) b$V)))
V_all <- crv1(bread, S_all, cluster, N, ncol(S_all))
theta <- unlist(lapply(blocks, function(b) as.vector(t(coef(b$fit)))))
se_model <- sqrt(diag(bread))
for (k in seq_along(theta)) add("by_origin", names_all[k], theta[k], se_model[k], sqrt(V_all[k, k]))
write.csv(do.call(rbind, out), "tests/reference/transition_reference.csv", row.names = FALSE)

# ---- probabilities at chosen values (by-origin model, clustered covariance) -----------------
x2_mean <- mean(est$x2)
q <- qt(0.975, G - 1)
prob_rows <- list()
start <- 0
for (r in states) {
  Br <- coef(blocks[[r]]$fit)
  np <- length(Br)
  idx <- (start + 1):(start + np)
  dest <- c(r, setdiff(states, r))  # outcome order of this fit: base first
  for (x1 in c(-1, 0, 1)) {
    x <- c(1, x1, x2_mean)
    prob_fn <- function(th) {
      B <- matrix(th, nrow = 2, byrow = TRUE)
      eta <- c(0, B %*% x)
      exp(eta) / sum(exp(eta))
    }
    th <- theta[idx]
    p <- prob_fn(th)
    J <- jacobian(prob_fn, th)
    se <- sqrt(diag(J %*% V_all[idx, idx] %*% t(J)))
    half <- q * se / (p * (1 - p))
    lo <- plogis(qlogis(p) - half)
    hi <- plogis(qlogis(p) + half)
    for (m in seq_along(dest)) {
      prob_rows[[length(prob_rows) + 1]] <- data.frame(origin = r, destination = dest[m], x1 = x1,
        x2 = sprintf("%.17g", x2_mean), probability = sprintf("%.17g", p[m]),
        std_error = sprintf("%.17g", se[m]), ci_low = sprintf("%.17g", lo[m]),
        ci_high = sprintf("%.17g", hi[m]))
    }
  }
  start <- start + np
}
write.csv(do.call(rbind, prob_rows), "tests/reference/transition_probabilities.csv", row.names = FALSE)

writeLines(c(R.version.string,
             paste("nnet", as.character(packageVersion("nnet"))),
             paste("numDeriv", as.character(packageVersion("numDeriv"))),
             paste("Matrix", as.character(packageVersion("Matrix"))),
             "command: Rscript tests/reference/make_transition_reference.R"),
           "tests/reference/transition_reference_versions.txt")
