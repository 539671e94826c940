package dev.sluice.agent.routing;

/**
 * Another node as routing needs it: where its pods' addresses are ({@code podCidr}) and where to send them
 * ({@code address}, its address on the network between nodes).
 */
record RemoteNode(String name, String address, String podCidr) {
}
