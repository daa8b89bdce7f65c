idx = q.reserve()
q[idx][:data_len] = data
q.publish(idx)
