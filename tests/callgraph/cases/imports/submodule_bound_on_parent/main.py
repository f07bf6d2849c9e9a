import net.http

net.http.get()
net.codec.decode("y")
