"""A Hubble client made only from Hubble's protos (flow, observer, peer, relay), as any user's would be.

Usage: hubble_client.py GENERATED_DIR TARGET COMMAND [ARG]
  status            ServerStatus
  nodes             GetNodes
  flows N [FILTER]  GetFlows, the last N flows; FILTER a JSON flow.FlowFilter for the whitelist
  follow N SECONDS  GetFlows with follow, until N flows arrived or SECONDS passed
  peers SECONDS     peer.Peer Notify, the changes that arrive within SECONDS
  agent-events      GetAgentEvents (the status code it answers)
Prints one JSON document (field names as in the .proto files) on stdout.
"""
import json
import sys
import time

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from flow import flow_pb2  # noqa: E402
from observer import observer_pb2, observer_pb2_grpc  # noqa: E402
from peer import peer_pb2, peer_pb2_grpc  # noqa: E402


def as_dict(message):
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def main():
    target, command = sys.argv[2], sys.argv[3]
    channel = grpc.insecure_channel(target)
    observer = observer_pb2_grpc.ObserverStub(channel)
    out = {}
    if command == "status":
        out = as_dict(observer.ServerStatus(observer_pb2.ServerStatusRequest(), timeout=10))
    elif command == "nodes":
        out = as_dict(observer.GetNodes(observer_pb2.GetNodesRequest(), timeout=10))
    elif command == "flows":
        request = observer_pb2.GetFlowsRequest(number=int(sys.argv[4]))
        if len(sys.argv) > 5:
            request.whitelist.append(json_format.Parse(sys.argv[5], flow_pb2.FlowFilter()))
        responses = []
        for r in observer.GetFlows(request, timeout=30):
            responses.append(as_dict(r))
        out = {"responses": responses}
    elif command == "follow":
        wanted, seconds = int(sys.argv[4]), float(sys.argv[5])
        call = observer.GetFlows(observer_pb2.GetFlowsRequest(number=1, follow=True), timeout=seconds)
        responses = []
        try:
            for r in call:
                responses.append(as_dict(r))
                if sum(1 for x in responses if "flow" in x) >= wanted:
                    call.cancel()
                    break
        except grpc.RpcError as e:
            if e.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
                raise
        out = {"responses": responses}
    elif command == "peers":
        changes = []
        try:
            for c in peer_pb2_grpc.PeerStub(channel).Notify(peer_pb2.NotifyRequest(), timeout=float(sys.argv[4])):
                changes.append(as_dict(c))
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
        out = {"changes": changes}
    elif command == "agent-events":
        try:
            for _ in observer.GetAgentEvents(observer_pb2.GetAgentEventsRequest(number=1), timeout=10):
                pass
            out = {"code": "OK"}
        except grpc.RpcError as e:
            out = {"code": e.code().name, "details": e.details()}
    else:
        raise SystemExit("unknown command " + command)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    start = time.time()
    main()
