"""The weekly marketing flyer: store data, prices as shown, layout, drawing."""
