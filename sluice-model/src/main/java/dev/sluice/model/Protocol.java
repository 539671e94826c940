package dev.sluice.model;

/** The transport protocols Kubernetes allows on container and Service ports. */
public enum Protocol { TCP, UDP, SCTP }
