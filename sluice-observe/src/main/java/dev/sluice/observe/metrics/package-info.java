/**
 * Prometheus metrics: Hubble's flow metrics under Hubble's names and labels, so that existing dashboards and
 * alerts work unchanged, and the agent's health under Cilium's names with the {@code sluice_} prefix.
 */
package dev.sluice.observe.metrics;
