/**
 * {@code panscore report}: one self-contained, offline HTML file (inline CSS, JavaScript and SVG)
 * that shows RSR and implicit-PRM score files: teachers ranked by dataset RSR, the best trajectory
 * per problem, per-teacher distributions, token heatmaps and PRM step rewards.
 */
package io.panscore.api.report;
